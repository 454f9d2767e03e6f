"""Scene graphs from layouts (thesis 6.4.1, app. B.3): six spatial relations, an image node.

Everything here is a pure function on tensors. A batch of layouts is ``boxes`` (``B×O×4``,
normalised ``x0, y0, x1, y1``, y pointing down), ``labels`` (``B×O``, ``0..K-1``) and
``valid`` (``B×O`` bool, padding ``False``).

Relations between a *subject* box ``s`` and an *object* box ``o`` (the sg2im rules):

* ``surrounding`` when ``s`` strictly contains ``o`` (all four inequalities strict);
* ``inside`` when ``o`` strictly contains ``s``;
* otherwise by the angle θ of ``d = centre(s) − centre(o)`` (``θ = atan2(dy, dx)``, y down):
  ``left of`` for ``|θ| ≥ 3π/4``, ``above`` for ``−3π/4 ≤ θ < −π/4``, ``right of`` for
  ``−π/4 ≤ θ < π/4``, ``below`` for ``π/4 ≤ θ < 3π/4``; tests run in that order, so the
  shared border ``θ = −3π/4`` is ``left of``, and equal centres (``θ = atan2(0, 0) = 0``) are
  ``right of``. The sectors are decided by exact comparisons of ``dx`` and ``dy`` (no
  floating-point angle), so the borders are exact.

Centres are box centres by default; :func:`mask_centroids` gives instance-mask centroids
(what sg2im uses) for layouts that carry masks.

A graph (:class:`SceneGraphs`) has the ``O`` object slots as nodes ``0..O-1`` plus an image
node at index ``O`` (class :data:`IMAGE_TOKEN` offset, i.e. label ``K``), an
``__in_image__`` triple from every valid object to the image node, and relation triples:

* ``mode="random"`` (sg2im): every valid object gets one partner drawn uniformly among the
  other valid objects of its layout, and the pair is ordered (subject, object) or (object,
  subject) with probability 1/2; the draw comes from a ``torch.Generator`` (seeded);
* ``mode="all"`` (deterministic): every ordered pair of distinct valid objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

#: Predicate vocabulary; index 0 is the edge from an object to the image node.
IN_IMAGE = "__in_image__"
RELATIONS = ("left of", "above", "right of", "below", "inside", "surrounding")
PREDICATES = (IN_IMAGE, *RELATIONS)
LEFT, ABOVE, RIGHT, BELOW, INSIDE, SURROUNDING = range(1, 7)
#: Name of the image node's class (its label is the number of object classes ``K``).
IMAGE_TOKEN = "__image__"

GraphMode = Literal["random", "all"]


@dataclass(frozen=True)
class SceneGraphs:
    """A padded batch of scene graphs.

    ``nodes``: ``B×(O+1)`` class indices (object slots, then the image node with label ``K``);
    ``node_valid``: ``B×(O+1)`` bool (the image node is always valid); ``triples``:
    ``B×T×3`` long ``(subject node, predicate, object node)``; ``triple_valid``: ``B×T`` bool.
    """

    nodes: Tensor
    node_valid: Tensor
    triples: Tensor
    triple_valid: Tensor

    @property
    def num_objects(self) -> int:
        """``O``: object slots per graph (the image node is node ``O``)."""
        return self.nodes.shape[1] - 1

    def to(self, device: torch.device | str) -> SceneGraphs:
        return SceneGraphs(*(t.to(device) for t in self.as_tuple()))

    def as_tuple(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.nodes, self.node_valid, self.triples, self.triple_valid

    def readable(self, b: int, class_names: list[str] | tuple[str, ...]) -> list[tuple[str, ...]]:
        """The valid triples of graph ``b`` as ``(subject, predicate, object)`` names."""
        names = [*class_names, IMAGE_TOKEN]
        out = []
        for (s, p, o), ok in zip(
            self.triples[b].tolist(), self.triple_valid[b].tolist(), strict=True
        ):
            if ok:
                sub, obj = int(self.nodes[b, s]), int(self.nodes[b, o])
                out.append((f"{names[sub]}#{s}", PREDICATES[p], f"{names[obj]}#{o}"))
        return out


def box_centres(boxes: Tensor) -> Tensor:
    """``…×4`` boxes → ``…×2`` centres ``((x0 + x1) / 2, (y0 + y1) / 2)``."""
    return torch.stack(
        ((boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2), dim=-1
    )


def mask_centroids(boxes: Tensor, masks: Tensor) -> Tensor:
    """Centroids (normalised image coordinates) of instance masks given inside their boxes.

    ``masks`` is ``…×M×M`` (the mask resampled to its box, as layout batches carry them);
    pixel ``(r, c)`` of the ``M×M`` grid sits at ``x0 + (c + 0.5) / M · w``. An empty mask
    falls back to the box centre.
    """
    m = masks.float()
    size_y, size_x = m.shape[-2], m.shape[-1]
    ys = (torch.arange(size_y, dtype=m.dtype, device=m.device) + 0.5) / size_y
    xs = (torch.arange(size_x, dtype=m.dtype, device=m.device) + 0.5) / size_x
    total = m.sum(dim=(-2, -1))
    fx = (m.sum(dim=-2) * xs).sum(-1) / total.clamp_min(1e-12)
    fy = (m.sum(dim=-1) * ys).sum(-1) / total.clamp_min(1e-12)
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    centroid = torch.stack((boxes[..., 0] + fx * w, boxes[..., 1] + fy * h), dim=-1)
    return torch.where((total > 0).unsqueeze(-1), centroid, box_centres(boxes))


def relations(
    subject_boxes: Tensor,
    object_boxes: Tensor,
    subject_centres: Tensor | None = None,
    object_centres: Tensor | None = None,
) -> Tensor:
    """Predicate indices (into :data:`PREDICATES`, ``1..6``) of subject → object, elementwise.

    Boxes are ``…×4``; centres (``…×2``) default to box centres.
    """
    s, o = subject_boxes, object_boxes
    if subject_centres is None:
        subject_centres = box_centres(s)
    if object_centres is None:
        object_centres = box_centres(o)
    d = subject_centres - object_centres
    dx, dy = d[..., 0], d[..., 1]
    surrounding = (s[..., 0] < o[..., 0]) & (s[..., 1] < o[..., 1])
    surrounding &= (s[..., 2] > o[..., 2]) & (s[..., 3] > o[..., 3])
    inside = (o[..., 0] < s[..., 0]) & (o[..., 1] < s[..., 1])
    inside &= (o[..., 2] > s[..., 2]) & (o[..., 3] > s[..., 3])
    left = (dx < 0) & (dy.abs() <= -dx)  # |θ| ≥ 3π/4
    above = (dy < 0) & (dx.abs() < -dy)  # −3π/4 < θ < −π/4 (−3π/4 itself is left of)
    below = (dy > 0) & (dx > -dy) & (dx <= dy)  # π/4 ≤ θ < 3π/4
    out = torch.full(dx.shape, RIGHT, dtype=torch.long, device=dx.device)  # −π/4 ≤ θ < π/4
    out = torch.where(below, torch.full_like(out, BELOW), out)
    out = torch.where(above, torch.full_like(out, ABOVE), out)
    out = torch.where(left, torch.full_like(out, LEFT), out)
    out = torch.where(inside, torch.full_like(out, INSIDE), out)
    return torch.where(surrounding, torch.full_like(out, SURROUNDING), out)


def relation_name(subject_box: Tensor, object_box: Tensor) -> str:
    """The relation of one subject box to one object box, by name."""
    return PREDICATES[int(relations(subject_box, object_box))]


def build_scene_graphs(
    boxes: Tensor,
    labels: Tensor,
    valid: Tensor,
    num_classes: int,
    *,
    mode: GraphMode = "random",
    generator: torch.Generator | None = None,
    centres: Tensor | None = None,
) -> SceneGraphs:
    """Scene graphs of a batch of layouts (see the module docstring for the two modes).

    ``centres`` (``B×O×2``) overrides the box centres (e.g. :func:`mask_centroids`).
    Triples come first per object slot (relation triples, then the ``__in_image__`` triples);
    invalid triples are padding.
    """
    if boxes.dim() != 3 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be B×O×4, got {tuple(boxes.shape)}")
    batch, slots = labels.shape
    device = boxes.device
    valid = valid.bool()
    if centres is None:
        centres = box_centres(boxes)
    idx = torch.arange(slots, device=device)
    if mode == "all":
        subj, obj = torch.meshgrid(idx, idx, indexing="ij")
        keep = subj != obj
        subj = subj[keep].expand(batch, -1)
        obj = obj[keep].expand(batch, -1)
        rel_valid = valid[:, subj[0]] & valid[:, obj[0]]
    elif mode == "random":
        others = valid.unsqueeze(1) & (idx.view(1, -1, 1) != idx.view(1, 1, -1))
        draws = torch.rand(batch, slots, slots, generator=generator, device="cpu").to(device)
        draws = torch.where(others, draws, torch.full_like(draws, -1.0))
        partner = draws.argmax(dim=-1)
        rel_valid = valid & others.any(dim=-1)
        me = idx.expand(batch, -1)
        swap = torch.rand(batch, slots, generator=generator, device="cpu").to(device) < 0.5
        subj = torch.where(swap, partner, me)
        obj = torch.where(swap, me, partner)
    else:
        raise ValueError(f"unknown scene-graph mode {mode!r}; choose 'random' or 'all'")
    gather = lambda t, i: torch.gather(t, 1, i.unsqueeze(-1).expand(-1, -1, t.shape[-1]))  # noqa: E731
    predicates = relations(
        gather(boxes, subj), gather(boxes, obj), gather(centres, subj), gather(centres, obj)
    )
    image_node = torch.full((batch, slots), slots, dtype=torch.long, device=device)
    in_image = torch.zeros_like(image_node)
    triples = torch.cat(
        (
            torch.stack((subj, predicates, obj), dim=-1),
            torch.stack((idx.expand(batch, -1), in_image, image_node), dim=-1),
        ),
        dim=1,
    )
    triple_valid = torch.cat((rel_valid, valid), dim=1)
    nodes = torch.cat(
        (
            torch.where(valid, labels.long(), torch.zeros_like(labels.long())),
            torch.full((batch, 1), num_classes, dtype=torch.long, device=device),
        ),
        dim=1,
    )
    node_valid = torch.cat((valid, torch.ones(batch, 1, dtype=torch.bool, device=device)), dim=1)
    return SceneGraphs(nodes, node_valid, triples, triple_valid)

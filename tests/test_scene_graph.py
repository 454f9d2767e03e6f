"""Scene graphs from layouts (app. B.3) and the triple graph convolution (fig. B.2a)."""

from __future__ import annotations

import math

import pytest
import torch

from lococo.ocgan.gcn import GraphEncoder, TripleGraphConv
from lococo.ocgan.scene_graph import (
    IMAGE_TOKEN,
    PREDICATES,
    box_centres,
    build_scene_graphs,
    mask_centroids,
    relation_name,
    relations,
)


def _box(cx: float, cy: float, half: float = 0.05) -> torch.Tensor:
    return torch.tensor([cx - half, cy - half, cx + half, cy + half], dtype=torch.float64)


def _angle_rule(dx: float, dy: float) -> str:
    """The sector rule written with the angle, as the thesis/sg2im state it."""
    theta = math.atan2(dy, dx)
    if theta >= 3 * math.pi / 4 or theta <= -3 * math.pi / 4:
        return "left of"
    if -3 * math.pi / 4 <= theta < -math.pi / 4:
        return "above"
    if -math.pi / 4 <= theta < math.pi / 4:
        return "right of"
    return "below"


@pytest.mark.parametrize(
    ("subject", "obj", "expected"),
    [
        ((0.2, 0.5), (0.6, 0.5), "left of"),
        ((0.8, 0.5), (0.4, 0.5), "right of"),
        ((0.5, 0.2), (0.5, 0.7), "above"),  # y points down: smaller y is higher
        ((0.5, 0.9), (0.5, 0.4), "below"),
    ],
)
def test_each_directional_relation(subject, obj, expected):
    assert relation_name(_box(*subject), _box(*obj)) == expected


def test_surrounding_and_inside_need_strict_containment():
    big = torch.tensor([0.1, 0.1, 0.9, 0.9], dtype=torch.float64)
    small = torch.tensor([0.3, 0.3, 0.5, 0.5], dtype=torch.float64)
    assert relation_name(big, small) == "surrounding"
    assert relation_name(small, big) == "inside"
    touching = torch.tensor([0.1, 0.3, 0.5, 0.5], dtype=torch.float64)  # shares the left edge
    assert relation_name(big, touching) not in ("surrounding", "inside")
    assert relation_name(touching, big) not in ("surrounding", "inside")
    # identical boxes: no strict containment, equal centres -> theta = atan2(0, 0) = 0
    assert relation_name(big, big.clone()) == "right of"


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (-1.0, 1.0, "left of"),  # theta = 3pi/4
        (-1.0, -1.0, "left of"),  # theta = -3pi/4: both 'left of' and 'above' -> first wins
        (1.0, -1.0, "right of"),  # theta = -pi/4
        (1.0, 1.0, "below"),  # theta = pi/4
        (-1.0, 0.0, "left of"),  # theta = pi
        (0.0, -1.0, "above"),
        (0.0, 1.0, "below"),
    ],
)
def test_ties_at_sector_borders(dx, dy, expected):
    obj = _box(0.5, 0.5)
    sub = _box(0.5 + 0.25 * dx, 0.5 + 0.25 * dy)
    assert relation_name(sub, obj) == expected
    assert _angle_rule(dx, dy) == expected


def test_vectorised_relations_match_the_angle_rule():
    gen = torch.Generator().manual_seed(0)
    centres_s = torch.rand(2000, 2, generator=gen, dtype=torch.float64)
    centres_o = torch.rand(2000, 2, generator=gen, dtype=torch.float64)
    half = 0.01  # tiny equal boxes: never containing each other
    boxes_s = torch.cat((centres_s - half, centres_s + half), 1)
    boxes_o = torch.cat((centres_o - half, centres_o + half), 1)
    got = relations(boxes_s, boxes_o)
    for k in range(len(got)):
        d = centres_s[k] - centres_o[k]
        assert PREDICATES[int(got[k])] == _angle_rule(float(d[0]), float(d[1]))


def test_mask_centroids_use_the_mask_inside_its_box():
    boxes = torch.tensor([[0.0, 0.4, 0.5, 0.6]])
    masks = torch.zeros(1, 4, 4)
    masks[0, :, 3] = 1.0  # only the rightmost column of the box
    c = mask_centroids(boxes, masks)
    assert torch.allclose(c, torch.tensor([[0.5 * 3.5 / 4, 0.5]]))
    empty = mask_centroids(boxes, torch.zeros(1, 4, 4))
    assert torch.allclose(empty, box_centres(boxes))
    # the centroid, not the box centre, decides the relation when given
    other = torch.tensor([[0.30, 0.35, 0.40, 0.65]])  # no containment; centre x = 0.35
    rel_box = relations(boxes, other)
    rel_mask = relations(boxes, other, c, box_centres(other))
    assert PREDICATES[int(rel_box)] == "left of" and PREDICATES[int(rel_mask)] == "right of"


def _layouts(seed: int = 0, batch: int = 4, slots: int = 6):
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(batch, slots, 2, generator=gen) * 0.6
    wh = torch.rand(batch, slots, 2, generator=gen) * 0.35 + 0.05
    boxes = torch.cat((xy, xy + wh), -1)
    labels = torch.randint(0, 5, (batch, slots), generator=gen)
    counts = torch.tensor([6, 3, 1, 4])[:batch]
    valid = torch.arange(slots).unsqueeze(0) < counts.unsqueeze(1)
    return boxes * valid.unsqueeze(-1), labels * valid, valid


def test_all_pairs_graph_has_every_ordered_pair_and_image_edges():
    boxes, labels, valid = _layouts()
    g = build_scene_graphs(boxes, labels, valid, 5, mode="all")
    for b in range(boxes.shape[0]):
        n = int(valid[b].sum())
        triples = [
            tuple(t) for t, ok in zip(g.triples[b].tolist(), g.triple_valid[b], strict=True) if ok
        ]
        rel = [t for t in triples if t[1] != 0]
        assert sorted((s, o) for s, _, o in rel) == sorted(
            (i, j) for i in range(n) for j in range(n) if i != j
        )
        for s, p, o in rel:
            assert p == int(relations(boxes[b, s], boxes[b, o]))
        image_edges = [t for t in triples if t[1] == 0]
        assert sorted(image_edges) == [(i, 0, 6) for i in range(n)]
        assert int(g.nodes[b, 6]) == 5 and bool(g.node_valid[b, 6])
        assert g.node_valid[b, :6].tolist() == valid[b].tolist()
    names = g.readable(0, list("abcde"))
    first = "abcde"[int(labels[0, 0])]
    assert (f"{first}#0", "__in_image__", f"{IMAGE_TOKEN}#6") in names
    assert len(names) == 6 * 5 + 6


def test_random_graph_one_partner_per_object_seeded():
    boxes, labels, valid = _layouts()
    g1 = build_scene_graphs(
        boxes, labels, valid, 5, mode="random", generator=torch.Generator().manual_seed(3)
    )
    g2 = build_scene_graphs(
        boxes, labels, valid, 5, mode="random", generator=torch.Generator().manual_seed(3)
    )
    g3 = build_scene_graphs(
        boxes, labels, valid, 5, mode="random", generator=torch.Generator().manual_seed(4)
    )
    assert torch.equal(g1.triples, g2.triples)
    assert not torch.equal(g1.triples, g3.triples)
    slots = boxes.shape[1]
    for b in range(boxes.shape[0]):
        n = int(valid[b].sum())
        rel, rel_ok = g1.triples[b, :slots], g1.triple_valid[b, :slots]
        # each valid object with a possible partner has one triple involving it and another
        assert rel_ok.tolist() == [i < n and n > 1 for i in range(slots)]
        for i in range(n if n > 1 else 0):
            s, p, o = rel[i].tolist()
            assert i in (s, o) and s != o and max(s, o) < n
            assert p == int(relations(boxes[b, s], boxes[b, o]))


def _permute(boxes, labels, valid, perm):
    return boxes[:, perm], labels[:, perm], valid[:, perm]


def test_gcn_is_permutation_equivariant_and_ignores_padding():
    torch.manual_seed(0)
    boxes, labels, valid = _layouts(seed=1)
    enc = GraphEncoder(5, dim=16, hidden=32, layers=3).double()
    g = build_scene_graphs(boxes.double(), labels, valid, 5, mode="all")
    out = enc(g)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    gp = build_scene_graphs(*_permute(boxes.double(), labels, valid, perm), 5, mode="all")
    outp = enc(gp)
    assert torch.allclose(outp.local, out.local[:, perm], atol=1e-10)
    assert torch.allclose(outp.global_, out.global_, atol=1e-10)
    assert torch.equal(outp.valid, valid[:, perm])
    assert float(out.local.detach()[~valid].abs().max()) == 0.0
    # changing what sits in padded slots changes nothing
    junk_labels = torch.where(valid, labels, torch.full_like(labels, 4))
    junk_boxes = torch.where(valid.unsqueeze(-1), boxes.double(), torch.rand_like(boxes.double()))
    gj = build_scene_graphs(junk_boxes, junk_labels, valid, 5, mode="all")
    assert torch.allclose(enc(gj).local, out.local, atol=1e-12)


def test_triple_conv_averages_candidates_per_node():
    torch.manual_seed(0)
    conv = TripleGraphConv(dim=3, hidden=4, out_dim=2).double()
    nodes = torch.randn(1, 3, 3, dtype=torch.float64)
    preds = torch.randn(1, 2, 3, dtype=torch.float64)
    triples = torch.tensor([[[0, 1, 1], [2, 1, 1]]])
    node_valid = torch.ones(1, 3, dtype=torch.bool)
    triple_valid = torch.tensor([[True, True]])
    new_nodes, new_preds = conv(nodes, preds, triples, node_valid, triple_valid)
    cand = [conv.net1(torch.cat((nodes[0, s], preds[0, t], nodes[0, o]))) for t, (s, _, o) in
            enumerate(triples[0].tolist())]  # fmt: skip
    h = 4
    pooled1 = (cand[0][h + 2 :] + cand[1][h + 2 :]) / 2  # node 1 is the object of both
    assert torch.allclose(new_nodes[0, 1], conv.net2(pooled1))
    assert torch.allclose(new_nodes[0, 0], conv.net2(cand[0][:h]))
    assert torch.allclose(new_preds[0, 1], cand[1][h : h + 2])

"""Triple graph convolution (sg2im-style) and the scene-graph encoder (thesis fig. B.2a).

One :class:`TripleGraphConv` layer takes node vectors ``B×N×D`` and predicate vectors
``B×T×Dp``; every valid triple ``(s, p, o)`` sends ``[v_s, v_p, v_o]`` through an MLP that
returns a candidate subject vector, a new predicate vector and a candidate object vector;
each node averages the candidates of the valid triples it takes part in, and a second MLP
maps the average to the node's new vector. Padded nodes (``node_valid`` false) are zeroed and
padded triples send nothing, so the output of a valid node does not depend on padding, and
permuting the object slots (with the triples relabelled accordingly) permutes the outputs.

:class:`GraphEncoder` embeds node classes and predicates, applies ``layers`` convolutions and
returns per-object embeddings (``B×O×D``, the object slots) and a global embedding: the mean
over valid nodes (the objects and the image node) of the last layer.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lococo.ocgan.scene_graph import PREDICATES, SceneGraphs


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def _gather_nodes(nodes: Tensor, index: Tensor) -> Tensor:
    """``nodes[b, index[b, t]]`` for ``B×N×D`` nodes and ``B×T`` indices → ``B×T×D``."""
    return torch.gather(nodes, 1, index.unsqueeze(-1).expand(-1, -1, nodes.shape[-1]))


class TripleGraphConv(nn.Module):
    """One sg2im graph convolution over padded triples (average pooling of candidates)."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None) -> None:
        super().__init__()
        out_dim = out_dim or dim
        self.hidden, self.out_dim = hidden, out_dim
        self.net1 = _mlp([3 * dim, hidden, 2 * hidden + out_dim])
        self.net2 = _mlp([hidden, hidden, out_dim])

    def forward(
        self,
        nodes: Tensor,
        predicates: Tensor,
        triples: Tensor,
        node_valid: Tensor,
        triple_valid: Tensor,
    ) -> tuple[Tensor, Tensor]:
        s_idx, o_idx = triples[..., 0], triples[..., 2]
        t = torch.cat((_gather_nodes(nodes, s_idx), predicates, _gather_nodes(nodes, o_idx)), -1)
        out = self.net1(t)
        h = self.hidden
        new_s, new_p, new_o = (
            out[..., :h],
            out[..., h : h + self.out_dim],
            out[..., h + self.out_dim :],
        )
        weight = triple_valid.to(nodes.dtype).unsqueeze(-1)
        pooled = nodes.new_zeros(nodes.shape[0], nodes.shape[1], h)
        pooled = pooled.scatter_add(1, s_idx.unsqueeze(-1).expand(-1, -1, h), new_s * weight)
        pooled = pooled.scatter_add(1, o_idx.unsqueeze(-1).expand(-1, -1, h), new_o * weight)
        counts = nodes.new_zeros(nodes.shape[0], nodes.shape[1])
        counts = counts.scatter_add(1, s_idx, weight[..., 0]).scatter_add(1, o_idx, weight[..., 0])
        pooled = pooled / counts.clamp_min(1.0).unsqueeze(-1)
        new_nodes = self.net2(pooled) * node_valid.to(nodes.dtype).unsqueeze(-1)
        return new_nodes, new_p * weight


class GraphFeatures(NamedTuple):
    """``local``: ``B×O×D`` object-node embeddings (zero for padding); ``valid``: ``B×O``;
    ``global_``: ``B×D`` pooled graph embedding."""

    local: Tensor
    valid: Tensor
    global_: Tensor


class GraphEncoder(nn.Module):
    """Class and predicate embeddings → ``layers`` triple convolutions → local + global."""

    def __init__(self, num_classes: int, dim: int = 128, hidden: int = 512, layers: int = 5):
        super().__init__()
        if layers < 1:
            raise ValueError(f"the graph encoder needs at least one layer, got {layers}")
        self.num_classes, self.dim = num_classes, dim
        self.node_embedding = nn.Embedding(num_classes + 1, dim)  # + the image node
        self.predicate_embedding = nn.Embedding(len(PREDICATES), dim)
        self.layers = nn.ModuleList(TripleGraphConv(dim, hidden) for _ in range(layers))

    def forward(self, graphs: SceneGraphs) -> GraphFeatures:
        nodes_idx, node_valid, triples, triple_valid = graphs.as_tuple()
        mask = node_valid.to(self.node_embedding.weight.dtype).unsqueeze(-1)
        nodes = self.node_embedding(nodes_idx) * mask
        preds = self.predicate_embedding(triples[..., 1])
        for layer in self.layers:
            nodes, preds = layer(nodes, preds, triples, node_valid, triple_valid)
        pooled = (nodes * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        objects = graphs.num_objects
        return GraphFeatures(nodes[:, :objects], node_valid[:, :objects], pooled)

"""CMIM chest X-ray classifier and its image-only baseline (thesis 8.3.3, 8.4.4).

Both share the image network (:class:`~lococo.cmim.image.ImageEncoder`) and the head
(:class:`ClassifierHead` on the image's global vector), so the test-time path
``predict(images)`` is the same network in both and needs no text.

:class:`CMIMClassifier` ``(images B×1×H×W, tokens B×L, lengths B) -> ClsOutput``:

* image: ``Λ^I`` local (``B×Ci×h×w``), ``Γ^I`` global; text (:class:`~lococo.cmim.text.TextCNN`):
  ``Λ^T`` (``B×Ct×L``), ``Γ^T``, token mask;
* joint global ``Γ = BilinearFusion(Γ^I, Γ^T)`` (``B×joint_dim``);
* critic scores for the losses: ``ll`` ``B×B×(h·w)×L`` from :class:`ImageTextLocalCritic`
  (separable: every image position against every token); ``lg_image`` ``B×B×h×w`` and
  ``lg_text`` ``B×B×L`` from concat-and-convolve critics (``lococo.nn.critics.ConcatConvCritic``,
  ``Γ`` tiled over the positions), rows indexing ``Γ``;
* ``logits`` ``B×K`` from the image global only.

``losses(out, targets)`` returns the eq. 8.3.5 terms and ``total`` (:mod:`.cls_losses`).
:class:`ImageOnlyClassifier` has the same interface; its ``forward`` ignores any text and its
losses are ``classif`` and ``total`` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lococo.cmim.cls_losses import (
    ClsLossWeights,
    classification_loss,
    local_global_loss,
    local_local_loss,
    total_loss,
)
from lococo.cmim.fusion import BilinearFusion
from lococo.cmim.image import ImageEncoder
from lococo.cmim.text import TextCNN
from lococo.nn.critics import ConcatConvCritic, Residual1x1


@dataclass
class ClsOutput:
    """What a forward pass gives; the text-side fields are ``None`` for the image-only model."""

    logits: Tensor
    image_local: Tensor
    image_global: Tensor
    text_local: Tensor | None = None
    text_global: Tensor | None = None
    text_mask: Tensor | None = None
    joint: Tensor | None = None
    ll_scores: Tensor | None = None
    lg_image_scores: Tensor | None = None
    lg_text_scores: Tensor | None = None


class ClassifierHead(nn.Module):
    """``dropout → linear`` from the image global vector to ``num_classes`` logits."""

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ImageTextLocalCritic(nn.Module):
    """Separable critic over every (image position, token) pair.

    ``scores[i, j, p, q] = <f(Λ^I_i)[:, p], g(Λ^T_j)[:, q]> / s`` with ``f``, ``g`` the Deep
    InfoMax residual 1×1 nets (``lococo.nn.critics.Residual1x1``) and ``s = √embed_dim`` when
    ``scale``. A concat-and-convolve critic over all ``h·w × L`` position pairs would need
    ``B²·h·w·L·hidden`` activations; the separable form needs ``B·(h·w + L)·embed_dim``.
    """

    def __init__(
        self, image_channels: int, text_channels: int, embed_dim: int = 64, scale: bool = True
    ) -> None:
        super().__init__()
        self.f = Residual1x1(image_channels, embed_dim, embed_dim)
        self.g = Residual1x1(text_channels, embed_dim, embed_dim)
        self.scale = 1.0 / math.sqrt(embed_dim) if scale else 1.0

    def forward(self, image_local: Tensor, text_local: Tensor) -> Tensor:
        f = self.f(image_local).flatten(2)  # B×E×P
        g = self.g(text_local)  # B×E×L
        return torch.einsum("iep,jeq->ijpq", f, g) * self.scale


class ImageOnlyClassifier(nn.Module):
    """The baseline: image network + head, trained on images alone."""

    def __init__(self, image: ImageEncoder, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.image = image
        self.head = ClassifierHead(image.global_dim, num_classes, dropout)
        self.num_classes = num_classes

    def predict(self, images: Tensor) -> Tensor:
        """Logits ``B×K`` from the images alone (the test-time path)."""
        return self.head(self.image(images).global_)

    def forward(
        self, images: Tensor, tokens: Tensor | None = None, lengths: Tensor | None = None
    ) -> ClsOutput:
        local, global_ = self.image(images)
        return ClsOutput(self.head(global_), local, global_)

    def losses(
        self,
        out: ClsOutput,
        targets: Tensor,
        weights: ClsLossWeights | None = None,
        estimator: str = "jsd",
    ) -> dict[str, Tensor]:
        terms = {"classif": classification_loss(out.logits, targets)}
        return {**terms, "total": (weights or ClsLossWeights()).classif * terms["classif"]}


class CMIMClassifier(ImageOnlyClassifier):
    """Image + report at training time, image alone at test time (``predict``)."""

    def __init__(
        self,
        image: ImageEncoder,
        text: TextCNN,
        num_classes: int,
        *,
        joint_dim: int = 128,
        fusion_rank: int | None = None,
        critic_hidden: int = 64,
        critic_layers: int = 1,
        local_embed: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(image, num_classes, dropout)
        self.text = text
        self.fusion = BilinearFusion(image.global_dim, text.global_dim, joint_dim, fusion_rank)
        self.ll_critic = ImageTextLocalCritic(
            image.local_channels, text.local_channels, local_embed
        )
        self.lg_image_critic = ConcatConvCritic(
            joint_dim, image.local_channels, critic_hidden, critic_layers
        )
        self.lg_text_critic = ConcatConvCritic(
            joint_dim, text.local_channels, critic_hidden, critic_layers
        )

    def forward(
        self, images: Tensor, tokens: Tensor | None = None, lengths: Tensor | None = None
    ) -> ClsOutput:
        if tokens is None or lengths is None:
            raise ValueError("CMIM training needs the reports (tokens, lengths); use predict()")
        image_local, image_global = self.image(images)
        text = self.text(tokens, lengths)
        joint = self.fusion(image_global, text.global_)
        return ClsOutput(
            logits=self.head(image_global),
            image_local=image_local,
            image_global=image_global,
            text_local=text.local,
            text_global=text.global_,
            text_mask=text.mask,
            joint=joint,
            ll_scores=self.ll_critic(image_local, text.local),
            lg_image_scores=self.lg_image_critic(joint, image_local),
            lg_text_scores=self.lg_text_critic(joint, text.local),
        )

    def losses(
        self,
        out: ClsOutput,
        targets: Tensor,
        weights: ClsLossWeights | None = None,
        estimator: str = "jsd",
    ) -> dict[str, Tensor]:
        """The eq. 8.3.5 terms (``local_local``, ``local_global``, ``classif``) and ``total``."""
        assert out.ll_scores is not None and out.text_mask is not None
        assert out.lg_image_scores is not None and out.lg_text_scores is not None
        weights = weights or ClsLossWeights()
        terms = {
            "local_local": local_local_loss(out.ll_scores, out.text_mask, estimator),
            "local_global": local_global_loss(
                out.lg_image_scores, out.lg_text_scores, out.text_mask, estimator
            ),
            "classif": classification_loss(out.logits, targets),
        }
        return {**terms, "total": total_loss(terms, weights)}

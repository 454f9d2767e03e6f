"""PN: the encoder trained end to end as a prototypical network (tables A.2, A.11)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lococo.config.loading import to_dict
from lococo.zfs.config import METHODS, ZFSConfig
from lococo.zfs.methods import method_class
from lococo.zfs.methods.pn import PNMethod
from lococo.zfs.protonet import ProtoNet


def _pn(local_loss: str = "none") -> PNMethod:
    torch.manual_seed(0)
    cfg = ZFSConfig()
    cfg.method.name, cfg.method.local_loss, cfg.method.proto_dim = "pn", local_loss, 16
    cfg.data.image_size, cfg.encoder.width, cfg.encoder.global_dim = 32, 0.25, 64
    attributes = torch.rand(5, 7, generator=torch.Generator().manual_seed(1))
    module = method_class("pn")(to_dict(cfg), attributes)
    assert isinstance(module, PNMethod)
    return module


def _batch(n: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    return torch.rand(n, 3, 28, 28, generator=g) * 2 - 1, torch.arange(n) % 5, torch.arange(n)


def test_pn_is_a_method_of_the_zoo():
    assert "pn" in METHODS and method_class("pn") is PNMethod


def test_pn_loss_is_cross_entropy_over_negative_squared_distances_to_prototypes():
    module = _pn()
    images, targets, _ = _batch()
    features = module.encoder(images)
    terms = module.method_losses(features, (images, targets, _))
    assert set(terms) == {"ce"}
    head = module.protonet
    assert isinstance(head, ProtoNet)  # the evaluation's network, trained jointly
    embedded = head.image(features.global_)
    prototypes = head.attribute(module.class_attributes)
    prototypes = prototypes / prototypes.norm(dim=1, keepdim=True)
    distances = torch.stack(
        [torch.stack([(e - p).pow(2).sum() for p in prototypes]) for e in embedded]
    )
    torch.testing.assert_close(terms["ce"], F.cross_entropy(-distances, targets))


def test_pn_trains_encoder_and_both_maps_and_accepts_a_local_loss():
    module = _pn("ac")
    images, targets, index = _batch()
    features = module.encoder(images)
    terms = module.add_local_loss(
        module.method_losses(features, (images, targets, index)), features, targets
    )
    assert set(terms) == {"ce", "local_ac"}
    sum(terms.values()).backward()
    for part in (
        module.encoder,
        module.protonet.image,
        module.protonet.attribute,
        module.local_head,
    ):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_pn_learns_to_classify_a_fixed_batch():
    """A few Adam steps on one batch bring the seen-class cross-entropy well down."""
    module = _pn()
    images, targets, index = _batch(10)
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = module.method_losses(module.encoder(images), (images, targets, index))["ce"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses

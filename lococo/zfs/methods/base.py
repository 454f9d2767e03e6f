"""The shared base of ZFS pretraining methods: encoder, optional local loss, optimiser."""

from __future__ import annotations

from typing import Any, ClassVar

import lightning as L
import torch
from torch import nn

from lococo.nn.encoders import Encoder, EncoderFeatures, build_encoder
from lococo.zfs.losses import attribute_local_loss, label_local_loss

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def encoder_from_config(config: dict[str, Any]) -> Encoder:
    """The encoder a (plain, nested) ZFS config describes."""
    enc = config["encoder"]
    return build_encoder(
        enc["name"], config["data"]["image_size"], global_dim=enc["global_dim"], width=enc["width"]
    )


class ZFSMethod(L.LightningModule):
    """Pretrains ``self.encoder`` on seen-class images only (the ZFS rule).

    Subclasses implement :meth:`method_losses`, returning named loss terms whose sum is
    minimised. ``class_attributes`` (``S×A``) are the seen classes' attribute soft labels in
    ``[0, 1]`` (:func:`~lococo.zfs.losses.attribute_targets`), rows in the order of the
    training targets ``0..S-1``; they feed the AC local loss.

    A method with ``views = 2`` receives batches ``(images B×2×C×H×W, targets, indices)``
    (two independent random crops/flips of each image) and overrides :meth:`training_step`,
    using :meth:`add_local_loss` and :meth:`finish_step`. Methods needing several optimisers
    set ``automatic_optimization = False`` and override :meth:`training_step` likewise.
    Under DDP, :meth:`gather` collects a tensor from every process (with gradients) so that
    negatives can come from the global batch.
    """

    views: ClassVar[int] = 1
    #: what the two images of a ``views = 2`` item are: ``"views"``, two augmentations of the
    #: same image (AMDIM); ``"class_partner"``, the image and a partner image of the same class
    #: (CMDIM, :class:`lococo.zfs.pairing.ClassPartnerDataset`)
    pairing: ClassVar[str] = "views"
    #: with ``pairing = "class_partner"``: probability that the second image is a partner
    #: (else a second view of the same image)
    partner_probability: float = 1.0

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        self.encoder = encoder_from_config(config)
        self.register_buffer("class_attributes", class_attributes.float().clone())
        self.num_seen, num_attributes = class_attributes.shape
        method = config["method"]
        self.local_loss_name: str = method["local_loss"]
        self.local_loss_weight: float = method["local_loss_weight"]
        out = {"ac": num_attributes, "lc": self.num_seen}.get(self.local_loss_name)
        self.local_head = (
            nn.Conv2d(self.encoder.local_channels, out, kernel_size=1) if out is not None else None
        )

    def method_losses(self, features: EncoderFeatures, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def local_loss(self, features: EncoderFeatures, targets: torch.Tensor) -> torch.Tensor:
        assert self.local_head is not None
        predicted = self.local_head(features.local)
        if self.local_loss_name == "ac":
            return attribute_local_loss(predicted, self.class_attributes[targets])
        return label_local_loss(predicted, targets)

    def add_local_loss(
        self, terms: dict[str, torch.Tensor], features: EncoderFeatures, targets: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Add the weighted AC/LC term to ``terms`` when a local loss is configured."""
        if self.local_head is not None:
            terms[f"local_{self.local_loss_name}"] = self.local_loss_weight * self.local_loss(
                features, targets
            )
        return terms

    def finish_step(self, terms: dict[str, torch.Tensor], stage: str = "train") -> torch.Tensor:
        """Sum the terms into the loss and log everything under ``stage/``."""
        loss = torch.stack(list(terms.values())).sum()
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, prog_bar=True, on_step=on_step, on_epoch=True)
        for name, value in terms.items():
            self.log(f"{stage}/{name}", value, on_step=False, on_epoch=True)
        return loss

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` from all processes concatenated along dim 0 (identity on one process)."""
        if self._trainer is None or self._trainer.world_size == 1:
            return tensor
        return self.all_gather(tensor, sync_grads=True).flatten(0, 1)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        images, targets, _ = batch
        features = self.encoder(images)
        terms = self.add_local_loss(self.method_losses(features, batch), features, targets)
        return self.finish_step(terms)

    def configure_optimizers(self) -> Any:
        optim = self.config["optim"]
        optimizer = torch.optim.Adam(
            self.parameters(),
            lr=optim["lr"],
            betas=(optim["beta1"], optim["beta2"]),
            weight_decay=optim["weight_decay"],
        )
        if optim["scheduler"] == "none":
            return optimizer
        epochs = max(1, int(self.trainer.max_epochs or 1))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }

"""PN: the encoder trained end to end as a prototypical network (tables A.2, A.11, "PN").

The seen classes' attribute vectors are mapped to prototypes by a learned linear map
(prototypes of unit length) and the encoder's global output by another linear map into the
same space; a class's logit is the negative squared distance to its prototype and the loss is
the cross-entropy over the seen classes. The head is :class:`lococo.zfs.protonet.ProtoNet`,
the network the zero-shot evaluation fits on frozen features, here trained jointly with the
encoder (its input normalisation stays the identity: the encoder's output ends in batch
norm). No local loss by default; AC/LC can be added as for every method.

The attribute vectors are the method's ``class_attributes`` (the seen classes' attributes
scaled to ``[0, 1]`` per attribute, as for AC). After pretraining the encoder is evaluated like
every other method: frozen, with a fresh prototypical network (``lococo zfs evaluate``).
"""

from __future__ import annotations

from typing import Any

import torch

from lococo.zfs.methods.fc import SeenClassMethod
from lococo.zfs.protonet import ProtoNet


class PNMethod(SeenClassMethod):
    """Prototypical network over the seen classes on top of the encoder's global output."""

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        dim = int(config["method"]["proto_dim"])
        self.protonet = ProtoNet(self.encoder.global_dim, class_attributes.shape[1], dim)

    def logits(self, global_: torch.Tensor) -> torch.Tensor:
        """``B×S`` logits over the seen classes (negative squared distances)."""
        return self.protonet(global_, self.class_attributes)

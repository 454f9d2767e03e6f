"""Image encoders that return local features (a ``B×C×H×W`` map) and a global vector.

Every encoder speaks one vocabulary (docs/architecture.md): ``forward`` gives
:class:`EncoderFeatures` ``(local, global_)``, ``features`` gives every named stage, and the
geometry of the local map (channels, shape, receptive fields) is known.

``image_size`` is the RESIZE side; the network sees a crop of side
``crop_size(image_size) = round(0.875 * image_size)`` (thesis app. A.2). Conv stages are
``conv -> BN -> ReLU [-> MaxPool]``; ReLU and max-pooling commute (both monotone), so the
order in table A.3 (pooling column before activation column) gives the same function.
Convs and linears that feed a BN have no bias (BN's shift makes it redundant).

Variants (``local`` is always the third conv stage, ``layer2``; convs are
``(channels, kernel, stride, padding)``; ``global_dim`` defaults to 1024):

=======  ======  =====  =====================================  =========  ========  =========
name     resize  input  conv stages                            local      last map  linears
=======  ======  =====  =====================================  =========  ========  =========
basic    128     112    table A.2: 5 × (64..1024, 4, 2, 1)     256×14×14  1024×3×3  G
basic    64      56     first 4 of A.2 (64..512)               256×7×7    512×3×3   G
basic    32      28     first 3 of A.2 (64..256)               256×3×3    256×3×3   G
alexnet  128     112    table A.3 (see below)                  384×27×27  192×6×6   4096-4096-G
alexnet  64      56     table A.3 unchanged                    384×13×13  192×2×2   4096-4096-G
alexnet  32      28     table A.3 minus the pool of stage 5    384×6×6    192×2×2   4096-4096-G
=======  ======  =====  =====================================  =========  ========  =========

Table A.3 convs are ``(96|192|384|384|192|192, 3, 1, 1)`` with MaxPool(3, 2) after stages 0,
1, 4 and 5; ``G`` is ``global_dim``. Every linear is followed by BN + ReLU, as in the
tables. The small variants drop the trailing downsampling (a whole stride-2 stage for
``basic``, the last pool for ``alexnet``) whose output would be narrower than 2 pixels.
Table A.3 ends with two 4096-wide linears, but app. A.2 states that "the final output of the
encoder was chosen to be 1024 across all models", so the AlexNet encoder gets a third linear
``4096 -> global_dim`` (+BN+ReLU) as its global output.

``features`` keys: ``layer0`` .. ``layerK`` (conv stage outputs, after their pool),
``prepool`` / ``postpool`` (input and output of the network's last pooling layer, when it has
one: the "small" and "big" receptive-field features of app. A.5), ``fc0``, ``fc1`` (hidden
linears), ``local`` and ``global``.

Receptive fields use pixel-index coordinates: input pixel ``i`` is centred at ``i``; the unit
at index ``k`` along an axis is centred at ``start + k * jump`` and spans ``rf_size`` pixels
(before clipping to the image).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lococo.data.zsl.images import crop_size

__all__ = [
    "ENCODERS",
    "IMAGE_SIZES",
    "ConvEncoder",
    "ConvSpec",
    "Encoder",
    "EncoderFeatures",
    "TorchvisionEncoder",
    "build_encoder",
    "conv_specs",
    "crop_size",
    "receptive_field",
]

ENCODERS = ("basic", "alexnet")
IMAGE_SIZES = (32, 64, 128)
LOCAL_STAGE = 2
ALEXNET_HIDDEN = (4096, 4096)


class EncoderFeatures(NamedTuple):
    """Local map ``B×C×H×W`` and global vector ``B×global_dim``."""

    local: Tensor
    global_: Tensor


@dataclass(frozen=True)
class ConvSpec:
    """One conv stage: ``conv(channels, kernel, stride, padding) -> BN -> ReLU [-> MaxPool]``."""

    channels: int
    kernel: int
    stride: int
    padding: int
    pool: tuple[int, int] | None = None  # (kernel, stride) of a MaxPool2d, no padding


_BASIC = tuple(ConvSpec(c, 4, 2, 1) for c in (64, 128, 256, 512, 1024))
_POOL = (3, 2)
_ALEXNET = (
    ConvSpec(96, 3, 1, 1, _POOL),
    ConvSpec(192, 3, 1, 1, _POOL),
    ConvSpec(384, 3, 1, 1),
    ConvSpec(384, 3, 1, 1),
    ConvSpec(192, 3, 1, 1, _POOL),
    ConvSpec(192, 3, 1, 1, _POOL),
)


def _check_choice(name: str, image_size: int) -> None:
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; valid choices: {', '.join(ENCODERS)}")
    if image_size not in IMAGE_SIZES:
        sizes = ", ".join(str(s) for s in IMAGE_SIZES)
        raise ValueError(f"unsupported image_size {image_size} for {name!r}; valid sizes: {sizes}")


def conv_specs(name: str, image_size: int) -> tuple[ConvSpec, ...]:
    """The conv stages of encoder ``name`` at resize side ``image_size`` (module table)."""
    _check_choice(name, image_size)
    if name == "basic":
        return _BASIC[: {32: 3, 64: 4, 128: 5}[image_size]]
    if image_size == 32:
        return (*_ALEXNET[:-1], ConvSpec(192, 3, 1, 1))
    return _ALEXNET


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def receptive_field(ops: Iterable[tuple[int, int, int]]) -> tuple[int, int, float]:
    """``(rf_size, jump, start)`` after a chain of ``(kernel, stride, padding)`` ops.

    Standard receptive-field arithmetic in pixel-index coordinates: unit ``k`` of the last op
    is centred at ``start + k * jump`` input pixels and sees ``rf_size`` pixels per axis.
    """
    rf, jump, start = 1, 1, 0.0
    for kernel, stride, padding in ops:
        rf += (kernel - 1) * jump
        start += ((kernel - 1) / 2 - padding) * jump
        jump *= stride
    return rf, jump, start


def _square(value: int | tuple[int, ...], what: str) -> int:
    if isinstance(value, int):
        return value
    if len(set(value)) != 1:
        raise NotImplementedError(f"receptive fields need square {what}, got {value}")
    return int(value[0])


def _spatial_op(module: nn.Module) -> tuple[int, int, int] | None:
    """``(kernel, stride, padding)`` of a conv or pooling module; None for pointwise modules."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        dilation = getattr(module, "dilation", 1)
        if _square(dilation, "dilation") != 1:
            raise NotImplementedError("receptive fields of dilated layers are not supported")
        stride = module.stride if module.stride is not None else module.kernel_size
        return (
            _square(module.kernel_size, "kernels"),
            _square(stride, "strides"),
            _square(module.padding, "padding"),
        )
    return None


class Encoder(nn.Module, ABC):
    """Base of all encoders: local map + global vector, and named intermediate stages."""

    local_channels: int
    global_dim: int
    input_size: int
    local_shape: tuple[int, int, int]

    @abstractmethod
    def features(self, x: Tensor) -> dict[str, Tensor]:
        """Every named stage of ``x``'s forward pass, including ``local`` and ``global``."""

    def forward(self, x: Tensor) -> EncoderFeatures:
        feats = self.features(x)
        return EncoderFeatures(feats["local"], feats["global"])

    def local_receptive_fields(self) -> tuple[int, int, float]:
        """``(rf_size, jump, start)`` of the local map (see :func:`receptive_field`)."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot derive receptive fields from its layers"
        )


class ConvStage(nn.Module):
    """``conv -> BN -> ReLU [-> MaxPool]``; :meth:`pre_and_post` exposes the pre-pool map."""

    def __init__(self, in_channels: int, spec: ConvSpec) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, spec.channels, spec.kernel, spec.stride, spec.padding, bias=False
        )
        self.bn = nn.BatchNorm2d(spec.channels)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(*spec.pool) if spec.pool is not None else None

    def pre_and_post(self, x: Tensor) -> tuple[Tensor, Tensor]:
        pre = self.relu(self.bn(self.conv(x)))
        return pre, (self.pool(pre) if self.pool is not None else pre)

    def forward(self, x: Tensor) -> Tensor:
        return self.pre_and_post(x)[1]

    def spatial_ops(self) -> list[tuple[int, int, int]]:
        modules = (self.conv, self.pool) if self.pool is not None else (self.conv,)
        return [op for op in map(_spatial_op, modules) if op is not None]


def _linear_bn_relu(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, out_features, bias=False),
        nn.BatchNorm1d(out_features),
        nn.ReLU(),
    )


class ConvEncoder(Encoder):
    """Conv stages, flatten, linears (each + BN + ReLU); local = output of stage ``local_stage``."""

    def __init__(
        self,
        specs: Sequence[ConvSpec],
        input_size: int,
        *,
        hidden: Sequence[int] = (),
        global_dim: int = 1024,
        in_channels: int = 3,
        local_stage: int = LOCAL_STAGE,
    ) -> None:
        super().__init__()
        if not 0 <= local_stage < len(specs):
            raise ValueError(f"local_stage {local_stage} outside the {len(specs)} conv stages")
        shapes = _stage_shapes(specs, input_size)
        channels = [in_channels] + [s.channels for s in specs]
        self.stages = nn.ModuleList(ConvStage(c, s) for c, s in zip(channels, specs, strict=False))
        widths = [math.prod(shapes[-1]), *hidden]
        self.hidden = nn.ModuleList(_linear_bn_relu(a, b) for a, b in itertools.pairwise(widths))
        self.project = _linear_bn_relu(widths[-1], global_dim)
        self.local_stage = local_stage
        self.input_size = input_size
        self.global_dim = global_dim
        self.local_shape = shapes[local_stage]
        self.local_channels = self.local_shape[0]
        self.stage_shapes = shapes
        pooled = [i for i, s in enumerate(specs) if s.pool is not None]
        self._last_pool = pooled[-1] if pooled else None

    def features(self, x: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for i, stage in enumerate(self.stages):
            pre, x = stage.pre_and_post(x)
            if i == self._last_pool:
                out["prepool"], out["postpool"] = pre, x
            out[f"layer{i}"] = x
        out["local"] = out[f"layer{self.local_stage}"]
        x = x.flatten(1)
        for j, layer in enumerate(self.hidden):
            x = out[f"fc{j}"] = layer(x)
        out["global"] = self.project(x)
        return out

    def receptive_field(self, stage: str = "local") -> tuple[int, int, float]:
        """``(rf_size, jump, start)`` of a named conv stage (``layer<i>``, ``local``, ...)."""
        if stage == "local":
            stage = f"layer{self.local_stage}"
        ops: list[tuple[int, int, int]] = []
        for i, block in enumerate(self.stages):
            block_ops = block.spatial_ops()
            if stage == "prepool" and i == self._last_pool:
                return receptive_field(ops + block_ops[:1])
            ops += block_ops
            if stage == f"layer{i}" or (stage == "postpool" and i == self._last_pool):
                return receptive_field(ops)
        raise ValueError(f"no conv stage named {stage!r} in this encoder")

    def local_receptive_fields(self) -> tuple[int, int, float]:
        return self.receptive_field("local")


def _stage_shapes(specs: Sequence[ConvSpec], input_size: int) -> list[tuple[int, int, int]]:
    """``(C, H, W)`` after every conv stage; raises if the map collapses."""
    size, shapes = input_size, []
    for i, spec in enumerate(specs):
        size = _out_size(size, spec.kernel, spec.stride, spec.padding)
        if spec.pool is not None:
            size = _out_size(size, spec.pool[0], spec.pool[1], 0)
        if size < 1:
            raise ValueError(f"input side {input_size} collapses to nothing at conv stage {i}")
        shapes.append((spec.channels, size, size))
    return shapes


def build_encoder(
    name: str,
    image_size: int,
    *,
    global_dim: int = 1024,
    in_channels: int = 3,
    width: float = 1.0,
) -> ConvEncoder:
    """Encoder ``name`` (``basic`` or ``alexnet``) for images resized to ``image_size``.

    The network input is the crop of side ``crop_size(image_size)``; see the module table.
    ``width`` scales every conv and hidden linear width (1.0: the thesis tables; smaller values
    give cheaper networks of the same shape for CPU work).
    """
    if width <= 0:
        raise ValueError(f"encoder width must be positive, got {width}")

    def scaled(channels: int) -> int:
        return max(8, round(channels * width))

    specs = tuple(
        dataclasses.replace(spec, channels=scaled(spec.channels))
        for spec in conv_specs(name, image_size)
    )
    hidden = tuple(scaled(h) for h in ALEXNET_HIDDEN) if name == "alexnet" else ()
    return ConvEncoder(
        specs,
        crop_size(image_size),
        hidden=hidden,
        global_dim=global_dim,
        in_channels=in_channels,
    )


class TorchvisionEncoder(Encoder):
    """Any torchvision model as an :class:`Encoder` (via ``create_feature_extractor``).

    ``local`` is the output of ``local_layer``; ``global`` is the global-average-pooled output
    of ``global_layer`` (default: the last 4-D stage before global pooling), projected by a
    linear layer to ``global_dim`` when given. ``features`` returns every top-level stage up to
    ``global_layer`` plus ``local`` and ``global``. Layer names are graph node names or module
    prefixes (``"layer2"``), as listed by ``get_graph_node_names``. The backbone's modules are
    shared, not copied.
    """

    def __init__(
        self,
        backbone: nn.Module,
        local_layer: str,
        global_layer: str | None = None,
        global_dim: int | None = None,
        *,
        input_size: int = 224,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        from torchvision.models.feature_extraction import create_feature_extractor

        nodes = _graph_nodes(backbone)
        stages = _top_level_stages(nodes)
        probe = torch.zeros(1, in_channels, input_size, input_size)
        if global_layer is None:
            global_layer = _default_global_layer(backbone, stages, probe)
        self.local_node = _resolve_node(nodes, local_layer)
        self.global_node = _resolve_node(nodes, global_layer)
        last = nodes.index(self.global_node)
        self.stage_nodes = {s: _resolve_node(nodes, s) for s in stages}
        self.stage_nodes = {s: n for s, n in self.stage_nodes.items() if nodes.index(n) <= last}
        wanted = {*self.stage_nodes.values(), self.local_node, self.global_node}
        self.body = create_feature_extractor(backbone, {n: n for n in wanted})
        local, pooled = _probe_shapes(self.body, probe, self.local_node, self.global_node)
        self.proj = nn.Linear(pooled, global_dim) if global_dim is not None else None
        self.local_shape = local
        self.local_channels = local[0]
        self.global_dim = global_dim if global_dim is not None else pooled
        self.input_size = input_size
        self.local_layer, self.global_layer = local_layer, global_layer

    def features(self, x: Tensor) -> dict[str, Tensor]:
        raw = self.body(x)
        out = {stage: raw[node] for stage, node in self.stage_nodes.items()}
        pooled = raw[self.global_node].mean(dim=(2, 3))
        out["local"] = raw[self.local_node]
        out["global"] = self.proj(pooled) if self.proj is not None else pooled
        return out

    def local_receptive_fields(self) -> tuple[int, int, float]:
        raise NotImplementedError(
            "receptive fields are not derived for torchvision backbones (their graphs may hold "
            "residual branches and functional ops); measure them empirically instead"
        )


def _graph_nodes(backbone: nn.Module) -> list[str]:
    """Node names present in both the train and eval graphs, in execution order."""
    from torchvision.models.feature_extraction import get_graph_node_names

    train, evaluation = get_graph_node_names(backbone)
    both = set(train)
    return [n for n in evaluation if n in both and n != "x"]


def _top_level_stages(nodes: Sequence[str]) -> list[str]:
    stages: list[str] = []
    for node in nodes:
        head = node.split(".")[0]
        if head not in stages:
            stages.append(head)
    return stages


def _resolve_node(nodes: Sequence[str], name: str) -> str:
    """The graph node ``name`` refers to: itself, or the last node inside module ``name``."""
    if name in nodes:
        return name
    inside = [n for n in nodes if n.startswith(name + ".")]
    if not inside:
        stages = ", ".join(_top_level_stages(nodes))
        raise ValueError(f"no layer {name!r} in the backbone; top-level stages: {stages}")
    return inside[-1]


def _default_global_layer(backbone: nn.Module, stages: Sequence[str], probe: Tensor) -> str:
    """The last top-level stage with a 4-D output wider than 1×1 that is not a global pool."""
    from torchvision.models.feature_extraction import create_feature_extractor

    extractor = create_feature_extractor(backbone, {s: s for s in stages})
    outputs = _eval_no_grad(extractor, probe)
    pools = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    maps = [s for s in stages if isinstance(outputs.get(s), Tensor) and outputs[s].dim() == 4]
    good = [
        s
        for s in maps
        if outputs[s].shape[2] * outputs[s].shape[3] > 1
        and not isinstance(getattr(backbone, s, None), pools)
    ]
    if not (good or maps):
        raise ValueError("the backbone has no 4-D feature stage; pass global_layer explicitly")
    return (good or maps)[-1]


def _eval_no_grad(module: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Run ``module`` in eval mode without gradients (BN statistics untouched), restore mode."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            return module(x)
    finally:
        for m, mode in modes:
            m.training = mode


def _probe_shapes(
    body: nn.Module, probe: Tensor, local_node: str, global_node: str
) -> tuple[tuple[int, int, int], int]:
    outputs = _eval_no_grad(body, probe)
    local, glob = outputs[local_node], outputs[global_node]
    if local.dim() != 4 or glob.dim() != 4:
        raise ValueError(
            f"local and global layers must give B×C×H×W maps; got {tuple(local.shape)} for "
            f"{local_node!r} and {tuple(glob.shape)} for {global_node!r}"
        )
    return (local.shape[1], local.shape[2], local.shape[3]), int(glob.shape[1])

"""The OC-GAN model's config and builders (thesis 6.3.2–6.3.4, figs. B.1, B.2).

:class:`GANModelConfig` defaults are a *small quick* model for CPU runs; the paper profile
overrides them (e.g. ``image_size=64 z_dim=128 embed_dim=128 g_channels=64 d_channels=64
norm_hidden=128``). Each ablation row of thesis table 6.4 is one set of switches:

========================================  ==========================================
row                                       overrides
========================================  ==========================================
Full                                      (defaults: ``patch_d=2``, all switches on)
Single patchD                             ``patch_d=1``
No patchD                                 ``patch_d=0``
No objectD                                ``object_d=false``
No bounding-box instance boundaries       ``boundaries=false``
No SGSM                                   ``sgsm=false``
No objectD, no SGSM                       ``object_d=false sgsm=false``
No perceptual loss                        ``perceptual=false``
========================================  ==========================================

``sgsm`` and ``perceptual`` only switch loss terms, read by the trainer; the others change
the networks built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lococo.errors import ConfigError
from lococo.ocgan.discriminators import OCGANDiscriminator
from lococo.ocgan.generator import OCGANGenerator

IMAGE_SIZES = (32, 64, 128, 256)
OBJ_CROPS = (16, 32)
MASK_SIZES = (4, 8, 16, 32, 64)


@dataclass
class GANModelConfig:
    """Generator and discriminator sizes and the ablation switches.

    ``image_size``: output side (``log2(image_size / 4)`` generator blocks: 3 at 32, 4 at 64,
    5 at 128, 6 at 256). ``z_dim``: image-level noise; ``obj_z_dim``: per-object noise;
    ``embed_dim``: object class embedding. ``g_channels``/``d_channels``: base widths (the
    generator's map at level ``k`` has ``g_channels · min(16, 2^(N-k))`` channels, LostGAN's
    progression; the discriminators use ``d, 2d, 4d``). ``mask_size``: side of the mask net's
    per-object shape. ``norm_hidden``: hidden channels of the conditional BatchNorm's shared
    3×3 conv (SPADE style); 0 maps the conditioning to ``γ, β`` with 1×1 convs (cheaper).
    ``patch_d``: 0, 1 or 2 patch discriminators; ``object_d``: the AC-GAN object
    discriminator on ``obj_crop²`` RoIAlign crops (16 or 32); ``boundaries``: the instance
    boundary channel in the conditioning (generator and patch discriminators); ``sgsm`` and
    ``perceptual``: the SGSM and VGG loss terms (read by the trainer).

    The defaults (32 px, widths 16, 16-px object crops) cost about 1.1 GFLOP (generator) and
    0.7 GFLOP (discriminators) per forward pass of a batch of 16 — small enough for well over
    a thousand iterations in a few CPU minutes; widths 32 with 32-px crops cost ~6× more.
    """

    image_size: int = 32
    z_dim: int = 64
    obj_z_dim: int = 32
    embed_dim: int = 64
    g_channels: int = 16
    d_channels: int = 16
    mask_size: int = 16
    norm_hidden: int = 0
    patch_d: int = 2
    object_d: bool = True
    boundaries: bool = True
    sgsm: bool = True
    perceptual: bool = True
    obj_crop: int = 16


def _refuse(prefix: str, key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{prefix}{key}={value!r} is not allowed; expected {allowed}")


def validate_model_config(cfg: GANModelConfig, prefix: str = "model.") -> None:
    """Raise one-line :class:`ConfigError` (``<prefix><key>=<value> is not allowed; expected
    ...``) for the first bad value of ``cfg``."""

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if cfg.image_size not in IMAGE_SIZES or not is_int(cfg.image_size):
        raise _refuse(prefix, "image_size", cfg.image_size, "one of 32, 64, 128, 256")
    for key in ("z_dim", "obj_z_dim", "embed_dim", "g_channels", "d_channels"):
        value = getattr(cfg, key)
        if not is_int(value) or value < 1:
            raise _refuse(prefix, key, value, "an integer >= 1")
    if not is_int(cfg.mask_size) or cfg.mask_size not in MASK_SIZES:
        raise _refuse(prefix, "mask_size", cfg.mask_size, "one of 4, 8, 16, 32, 64")
    if not is_int(cfg.norm_hidden) or cfg.norm_hidden < 0:
        raise _refuse(prefix, "norm_hidden", cfg.norm_hidden, "an integer >= 0 (0: 1×1 convs)")
    if not is_int(cfg.patch_d) or cfg.patch_d not in (0, 1, 2):
        raise _refuse(prefix, "patch_d", cfg.patch_d, "0, 1 or 2 patch discriminators")
    for key in ("object_d", "boundaries", "sgsm", "perceptual"):
        value = getattr(cfg, key)
        if not isinstance(value, bool):
            raise _refuse(prefix, key, value, "true or false")
    if not is_int(cfg.obj_crop) or cfg.obj_crop not in OBJ_CROPS:
        raise _refuse(prefix, "obj_crop", cfg.obj_crop, "16 or 32")
    if cfg.obj_crop > cfg.image_size:
        raise _refuse(prefix, "obj_crop", cfg.obj_crop, f"at most image_size={cfg.image_size}")
    if cfg.patch_d == 0 and not cfg.object_d:
        raise ConfigError(
            f"{prefix}patch_d=0 with {prefix}object_d=false leaves no discriminator; "
            "keep at least one"
        )


def build_generator(cfg: GANModelConfig, num_classes: int) -> OCGANGenerator:
    """The generator for ``num_classes`` object classes (``cfg`` validated first)."""
    validate_model_config(cfg)
    return OCGANGenerator(cfg, _classes(num_classes))


def build_discriminator(cfg: GANModelConfig, num_classes: int) -> OCGANDiscriminator:
    """The patch and object discriminators the switches of ``cfg`` ask for."""
    validate_model_config(cfg)
    return OCGANDiscriminator(cfg, _classes(num_classes))


def _classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes={num_classes!r} is not allowed; expected an integer >= 1")
    return num_classes

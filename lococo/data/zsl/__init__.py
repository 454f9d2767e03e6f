"""Zero-shot learning datasets: CUB-200-2011, AwA2, SUN with the xlsa17 splits, and the
synthetic "compositional birds" generator that writes the CUB + xlsa17 layout."""

from lococo.data.zsl.types import PartAnnotations, ZSLData

__all__ = ["PartAnnotations", "ZSLData"]

"""lococo: locality and compositionality in visual representation learning.

Implements the three systems of Sylvain's thesis: ZFS (zero-shot learning from scratch),
OC-GAN (object-centric layout-to-image generation) and CMIM (cross-modal mutual-information
maximisation for medical imaging).
"""

__version__ = "0.1.0"

"""Joint global embedding of an image and its report: a bilinear combination (thesis 8.3.3).

:class:`BilinearFusion` computes, for image global ``x`` (``B×Dx``) and text global ``y``
(``B×Dy``), the joint ``Γ`` (``B×D``):

* full rank (``rank=None``): ``Γ_k = xᵀ W_k y + b_k`` (``torch.nn.Bilinear``; ``D·Dx·Dy``
  weights);
* low rank (``rank=r``): ``Γ = P((U x) ⊙ (V y)) + b`` with ``U: Dx→r``, ``V: Dy→r`` and
  ``P: r→D`` (the low-rank bilinear pooling of Kim et al. 2017), i.e. ``W_k = Σ_s P_ks u_s v_sᵀ``
  restricted to rank ``r``; ``(D + Dx + Dy)·r`` weights.
"""

from __future__ import annotations

from torch import Tensor, nn


class BilinearFusion(nn.Module):
    def __init__(self, image_dim: int, text_dim: int, out_dim: int, rank: int | None = None):
        super().__init__()
        self.rank = rank
        self.out_dim = out_dim
        if rank is None:
            self.bilinear: nn.Module = nn.Bilinear(image_dim, text_dim, out_dim)
        else:
            if rank < 1:
                raise ValueError(f"rank must be positive, got {rank}")
            self.u = nn.Linear(image_dim, rank, bias=False)
            self.v = nn.Linear(text_dim, rank, bias=False)
            self.p = nn.Linear(rank, out_dim)

    def forward(self, image: Tensor, text: Tensor) -> Tensor:
        if self.rank is None:
            return self.bilinear(image, text)
        return self.p(self.u(image) * self.v(text))

"""Report text → token ids for the text CNN: tokeniser, vocabulary, padding, embedding matrix.

Tokenisation (:func:`tokenize`): runs of two or more capital ``X`` (Open-I's anonymisation,
``XXXX``, also inside words such as ``x-XXXX``) become the token ``<anon>``; the text is then
lower-cased and split into runs of letters and digits (``don't`` stays one token);
every other character (punctuation, ``/``, ``-``) separates tokens and is dropped.

Ids: ``0`` is ``<pad>`` (a zero vector, masked by the text CNN), ``1`` is ``<unk>`` (words
outside the vocabulary or the GloVe file get a fixed vector), ``2`` is ``<anon>``; words follow
in order of first appearance. An empty text encodes as a single ``<unk>`` (length 1), so every
sequence has at least one real position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from lococo.data.cxr.glove import GloVe, unknown_vector

PAD, UNK, ANON = "<pad>", "<unk>", "<anon>"
SPECIALS = (PAD, UNK, ANON)
PAD_ID, UNK_ID, ANON_ID = 0, 1, 2

_ANON_RE = re.compile(r"X{2,}")
_TOKEN_RE = re.compile(r"<anon>|[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Tokens of ``text``: ``XXXX`` → ``<anon>``, lower case, punctuation dropped."""
    return _TOKEN_RE.findall(_ANON_RE.sub(" <anon> ", text).lower())


@dataclass
class Vocabulary:
    """Word ↔ id table; ids 0–2 are :data:`SPECIALS`."""

    words: list[str] = field(default_factory=lambda: list(SPECIALS))

    def __post_init__(self) -> None:
        if tuple(self.words[:3]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}")
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Every token of ``texts`` seen at least ``min_count`` times, in first-seen order."""
        counts: dict[str, int] = {}
        for text in texts:
            for tok in tokenize(text):
                counts[tok] = counts.get(tok, 0) + 1
        kept = [w for w, c in counts.items() if c >= min_count and w not in SPECIALS]
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Ids of ``text``'s tokens (cut to ``max_len``); ``[UNK_ID]`` for an empty text."""
        ids = [self.index.get(t, UNK_ID) for t in tokenize(text)][:max_len]
        return ids or [UNK_ID]

    def batch(self, texts: Sequence[str], max_len: int | None = None) -> tuple[Tensor, Tensor]:
        """``(ids B×L, lengths B)``: sequences padded with ``PAD_ID`` to the longest one."""
        return pad_sequences([self.encode(t, max_len) for t in texts])

    def embedding_matrix(self, glove: GloVe) -> Tensor:
        """``len(self)×d`` float tensor: GloVe rows, zeros for ``<pad>``, fixed unknown vectors.

        ``<unk>``, ``<anon>`` and every word missing from ``glove`` get
        :func:`~lococo.data.cxr.glove.unknown_vector` of ``<unk>`` / ``<anon>``.
        """
        unk = unknown_vector(glove, UNK)
        rows = np.empty((len(self.words), glove.dim), dtype=np.float32)
        rows[PAD_ID] = 0.0
        rows[ANON_ID] = unknown_vector(glove, ANON)
        for i, word in enumerate(self.words):
            if i in (PAD_ID, ANON_ID):
                continue
            j = glove.index.get(word)
            rows[i] = glove.vectors[j] if j is not None else unk
        return torch.from_numpy(rows)

    def coverage(self, glove: GloVe) -> float:
        """Share of the (non-special) words that have a GloVe vector."""
        words = self.words[len(SPECIALS) :]
        return sum(w in glove.index for w in words) / len(words) if words else 1.0


def pad_sequences(seqs: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """Right-pad id lists with ``PAD_ID``: ``(ids B×L long, lengths B long)``."""
    if not seqs:
        raise ValueError("no sequences to pad")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    ids = torch.full((len(seqs), int(lengths.max())), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return ids, lengths

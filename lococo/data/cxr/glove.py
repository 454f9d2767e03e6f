"""GloVe word vectors from a local text file (``word v1 … vd`` per line, any ``d``).

Rules (the file is read once, line by line, nothing is downloaded):

* ``d`` is the ``dim`` argument when given, else the number of trailing numeric fields of the
  first vector line (one less when every field is numeric, i.e. the word itself is a number).
  A first line of exactly two integers (a word2vec-style ``count dim`` header) is skipped and
  gives ``d``.
* A word may contain spaces (GloVe 840B has tokens such as ``". . ."``): the vector is the
  LAST ``d`` fields and the word is everything before them, re-joined by single spaces. A line
  whose field just before the last ``d`` is itself a number has more than ``d`` values and is
  an inconsistent dimension (so a multi-word token whose last piece is a number is refused).
* A line with fewer than ``d + 1`` fields, or a non-numeric value among the last ``d``, is a
  :class:`DataError` naming the file and the line number. Blank lines are skipped.
* Duplicate words: the FIRST occurrence wins; later ones are counted in ``duplicates``.
* With ``vocabulary`` only the vectors of those words are kept (every line is still validated).
* No vector at all (an empty file or no word of ``vocabulary``) is a :class:`DataError`.

Words outside the file get a fixed vector (:func:`unknown_vector`): a pseudo-random normal
vector from a fixed seed, scaled to the mean norm of the file's vectors, the same on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lococo.errors import DataError


@dataclass
class GloVe:
    """Word vectors read from ``path``: ``vectors[index[word]]`` is ``word``'s vector."""

    path: Path
    dim: int
    words: list[str]
    vectors: np.ndarray  # V×d float32
    duplicates: int = 0
    lines: int = 0
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def vector(self, word: str) -> np.ndarray:
        """``word``'s vector, or the fixed :func:`unknown_vector` when the file lacks it."""
        i = self.index.get(word)
        return self.vectors[i] if i is not None else unknown_vector(self, word="<unk>")

    @property
    def mean_norm(self) -> float:
        return float(np.linalg.norm(self.vectors, axis=1).mean()) if len(self.words) else 1.0


def unknown_vector(glove: GloVe, word: str = "<unk>") -> np.ndarray:
    """The fixed vector of a word outside ``glove``: seeded by ``word``'s name (not by chance)."""
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(glove.dim)
    return (v / np.linalg.norm(v) * glove.mean_norm).astype(np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _trailing_numbers(fields: list[str]) -> int:
    count = 0
    for f in reversed(fields):
        if not _is_number(f):
            break
        count += 1
    return count


def read_glove(
    path: str | Path, *, dim: int | None = None, vocabulary: Iterable[str] | None = None
) -> GloVe:
    """Read a GloVe text file (see the module rules); ``DataError`` on any malformed line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "GloVe file not found")
    wanted = None if vocabulary is None else set(vocabulary)
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    duplicates = 0
    line_no = 0
    try:
        with open(path, encoding="utf-8") as handle:
            for line_no, raw in enumerate(handle, start=1):
                fields = raw.rstrip("\n").rstrip("\r").split()
                if not fields:
                    continue
                if dim is None:
                    dim = _first_dim(fields, path, line_no)
                    if dim is None:  # a word2vec-style header line
                        dim = int(fields[1])
                        continue
                word, values = _split(fields, dim, path, line_no)
                if word in seen:
                    duplicates += 1
                    continue
                seen.add(word)
                if wanted is not None and word not in wanted:
                    continue
                try:
                    vector = np.asarray(values, dtype=np.float32)
                except ValueError:
                    raise DataError(path, "non-numeric vector value", line_no) from None
                words.append(word)
                rows.append(vector)
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text ({err.reason})", line_no + 1) from None
    if not words:
        what = "no word vectors" if wanted is None else "none of the vocabulary's words"
        raise DataError(path, f"empty vocabulary: {what} in the file")
    assert dim is not None
    return GloVe(path, dim, words, np.stack(rows), duplicates=duplicates, lines=line_no)


def _first_dim(fields: list[str], path: Path, line_no: int) -> int | None:
    """``d`` from the first vector line; ``None`` for a ``count dim`` header line."""
    if len(fields) == 2 and all(f.isascii() and f.isdigit() for f in fields):
        return None
    trailing = _trailing_numbers(fields)
    d = min(trailing, len(fields) - 1)
    if d < 1:
        raise DataError(path, "no numeric vector values on the first line", line_no)
    return d


def _split(fields: list[str], dim: int, path: Path, line_no: int) -> tuple[str, list[str]]:
    n = len(fields)
    if n < dim + 1:
        raise DataError(path, f"inconsistent dimension: {n - 1} values, expected {dim}", line_no)
    if n > dim + 1 and _is_number(fields[n - dim - 1]):
        raise DataError(
            path,
            f"inconsistent dimension: more than {dim} values (at least {dim + 1})",
            line_no,
        )
    return " ".join(fields[: n - dim]), fields[n - dim :]


def write_glove(path: str | Path, words: Iterable[str], vectors: np.ndarray) -> None:
    """Write ``words`` and their ``vectors`` (V×d) as a GloVe text file, atomically."""
    from lococo.io import atomic_open

    with atomic_open(path, "w") as handle:
        for word, vec in zip(words, vectors, strict=True):
            handle.write(word + " " + " ".join(f"{float(x):.5f}" for x in vec) + "\n")

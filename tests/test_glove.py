"""GloVe reader against a direct parse: values, dimension, duplicates, spaces, unknown words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lococo.data.cxr.glove import read_glove, unknown_vector
from lococo.data.cxr.text import ANON_ID, PAD_ID, UNK_ID, Vocabulary
from lococo.errors import DataError


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _random_file(tmp_path: Path, dim: int, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20)]
    vecs = rng.standard_normal((20, dim)).round(4)
    lines = [
        w + " " + " ".join(repr(float(x)) for x in v) for w, v in zip(words, vecs, strict=True)
    ]
    return _write(tmp_path / "g.txt", lines), dict(zip(words, vecs, strict=True))


@pytest.mark.parametrize("dim", [1, 3, 7, 300])
def test_values_and_dimension_match_a_direct_parse(tmp_path: Path, dim: int) -> None:
    path, expected = _random_file(tmp_path, dim, seed=dim)
    glove = read_glove(path)
    assert glove.dim == dim and len(glove) == len(expected)
    direct = {}
    for line in path.read_text().splitlines():
        fields = line.split(" ")
        direct[fields[0]] = np.array([float(x) for x in fields[1:]], dtype=np.float32)
    for word, vec in direct.items():
        np.testing.assert_array_equal(glove.vectors[glove.index[word]], vec)
        np.testing.assert_allclose(vec, expected[word], rtol=0, atol=1e-6)


def test_duplicates_first_wins_and_spaces_in_tokens(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "g.txt",
        ["the 1 2 3", ". . . 4 5 6", "a b 7 8 9", "the 10 11 12", "", "x 0 0 1"],
    )
    glove = read_glove(path)
    assert glove.dim == 3 and glove.duplicates == 1
    assert glove.words == ["the", ". . .", "a b", "x"]
    np.testing.assert_array_equal(glove.vectors[glove.index["the"]], [1, 2, 3])
    np.testing.assert_array_equal(glove.vectors[glove.index[". . ."]], [4, 5, 6])


def test_numeric_first_word_and_word2vec_header(tmp_path: Path) -> None:
    assert read_glove(_write(tmp_path / "a.txt", ["1 0.5 0.25", "b 1 2"])).dim == 2
    header = read_glove(_write(tmp_path / "b.txt", ["2 3", "a 1 2 3", "b 4 5 6"]))
    assert header.dim == 3 and header.words == ["a", "b"]


@pytest.mark.parametrize(
    ("lines", "line_no"),
    [
        (["a 1 2 3", "b 1 2"], 2),  # too few values
        (["a 1 2 3", "b 1 2", "c 1 2 3"], 2),
        (["a 1 2 3", "b 4 5 6", "c 1 2 3 4"], 3),  # one value too many
        (["a 1 2 3", "b 1 x 3"], 2),  # non-numeric value
    ],
)
def test_inconsistent_dimension_names_the_line(
    tmp_path: Path, lines: list[str], line_no: int
) -> None:
    path = _write(tmp_path / "bad.txt", lines)
    with pytest.raises(DataError) as err:
        read_glove(path)
    assert err.value.line == line_no and str(path) in str(err.value)


def test_empty_vocabulary_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty vocabulary"):
        read_glove(_write(tmp_path / "e.txt", ["", "  "]))
    path, _ = _random_file(tmp_path, 4)
    with pytest.raises(DataError, match="empty vocabulary"):
        read_glove(path, vocabulary={"absent"})
    with pytest.raises(DataError, match="not found"):
        read_glove(tmp_path / "missing.txt")


def test_vocabulary_filter_keeps_only_requested_words(tmp_path: Path) -> None:
    path, expected = _random_file(tmp_path, 5)
    glove = read_glove(path, vocabulary={"w3", "w7", "nope"})
    assert sorted(glove.words) == ["w3", "w7"]
    np.testing.assert_allclose(glove.vectors[glove.index["w7"]], expected["w7"], atol=1e-6)


def test_unknown_words_get_a_fixed_vector(tmp_path: Path) -> None:
    path, expected = _random_file(tmp_path, 6)
    glove = read_glove(path)
    vocab = Vocabulary.build(["w1 zzz XXXX w2", "yyy w1"])
    emb = vocab.embedding_matrix(glove).numpy()
    assert vocab.encode("w1 zzz XXXX")[2] == ANON_ID
    np.testing.assert_array_equal(emb[PAD_ID], 0.0)
    np.testing.assert_allclose(emb[vocab.index["w1"]], expected["w1"], atol=1e-6)
    unk = unknown_vector(glove, "<unk>")
    np.testing.assert_array_equal(emb[vocab.index["zzz"]], unk)
    np.testing.assert_array_equal(emb[vocab.index["yyy"]], unk)
    np.testing.assert_array_equal(emb[UNK_ID], unk)
    assert not np.allclose(emb[ANON_ID], unk)
    again = read_glove(path)  # fixed: the same vector on every read
    np.testing.assert_array_equal(unknown_vector(again, "<unk>"), unk)
    assert abs(np.linalg.norm(unk) - glove.mean_norm) < 1e-4
    assert vocab.coverage(glove) == pytest.approx(2 / 4)

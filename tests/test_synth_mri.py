"""Brain phantoms: written in the BraTS NIfTI layout, read back unchanged, deterministic, varied,
and with the per-modality contrasts chapter 8's experiment needs (T1c strong for the enhancing
rim, FLAIR/T2 bright for edema with only a faint rim, T1 weak)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from lococo.cli.main import main
from lococo.data.mri import EDEMA, ENHANCING, MODALITIES, NECROTIC, load_mri, read_case
from lococo.data.mri.synth import (
    CONTRAST,
    OEDEMA,
    RIM,
    SynthArgumentError,
    make_phantom,
    phantom_shape,
    synth_mri,
)
from lococo.data.mri.volumes import brain_mask, normalise_image

SIZE = 32


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phantoms")
    synth_mri(root, seed=3, cases=6, size=SIZE, progress=False, overwrite=True)
    return root


def test_layout_and_read_back_unchanged(written: Path) -> None:
    data = load_mri(written, "brats")
    assert [c.case_id for c in data.cases] == [f"SynthBrain_{i:03d}" for i in range(1, 7)]
    for i, case in enumerate(data.cases):
        for suffix in ("flair", "t1", "t1ce", "t2", "seg"):
            assert (written / case.case_id / f"{case.case_id}_{suffix}.nii.gz").is_file()
        ph = make_phantom(3, i, SIZE)
        vol = read_case(case)
        np.testing.assert_array_equal(vol.image, ph.image)
        np.testing.assert_array_equal(vol.label, ph.label)
        np.testing.assert_allclose(vol.affine, ph.affine, atol=1e-4)
        np.testing.assert_allclose(vol.spacing, ph.spacing, rtol=1e-5)
        assert vol.shape == phantom_shape(SIZE)
        # The brain mask the reader derives is the phantom's brain (labels lie inside it).
        assert not (vol.label[~vol.brain]).any()


def test_files_use_brats_2018_label_values_and_varied_headers(written: Path) -> None:
    orientations, values = set(), set()
    for case in sorted(p for p in written.iterdir() if p.is_dir()):
        img = nib.load(str(case / f"{case.name}_seg.nii.gz"))
        values |= set(np.unique(np.asarray(img.dataobj)).tolist())
        orientations.add("".join(nib.aff2axcodes(img.affine)))
        zooms = img.header.get_zooms()
        assert len(set(np.round(zooms, 3))) > 1  # non-isotropic
        assert np.asarray(nib.load(str(case / f"{case.name}_t1.nii.gz")).dataobj).dtype == np.int16
    assert values <= {0, 1, 2, 4} and 4 in values
    assert len(orientations) >= 2 and orientations != {"RAS"}


def test_deterministic_per_seed() -> None:
    a, b, c = make_phantom(5, 2, SIZE), make_phantom(5, 2, SIZE), make_phantom(6, 2, SIZE)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.label, b.label)
    assert not np.array_equal(a.image, c.image)


def test_anatomy_varies_between_cases() -> None:
    phantoms = [make_phantom(0, i, SIZE) for i in range(8)]
    brains = [int(brain_mask(p.image).sum()) for p in phantoms]
    tumours = [int((p.label > 0).sum()) for p in phantoms]
    centres = [np.argwhere(p.label > 0).mean(axis=0) for p in phantoms if (p.label > 0).any()]
    assert np.std(brains) / np.mean(brains) > 0.03
    assert max(tumours) > 2 * min(tumours)
    assert np.std(np.asarray(centres), axis=0).max() > 2.0
    for p in phantoms:
        present = set(np.unique(p.label).tolist())
        assert {0, EDEMA} <= present


def test_contrast_table_encodes_strong_and_weak_modalities() -> None:
    rim_vs_edema = {m: CONTRAST[m][RIM] / CONTRAST[m][OEDEMA] for m in MODALITIES}
    assert rim_vs_edema["t1c"] > 2.5
    for weak in ("flair", "t1", "t2"):
        assert 0.85 < rim_vs_edema[weak] < 1.15
    for bright in ("flair", "t2"):  # edema bright against white matter
        assert CONTRAST[bright][OEDEMA] > 1.5 * CONTRAST[bright][2]


def _neighbourhoods(x: np.ndarray, where: np.ndarray, r: int = 2) -> np.ndarray:
    windows = sliding_window_view(np.pad(x, r), (2 * r + 1,) * 3)[where]
    return windows.reshape(len(windows), -1)


def test_enhancing_rim_strong_in_t1c_faint_but_learnable_elsewhere() -> None:
    """Enhancing vs the rest of the lesion (core + edema), after per-modality normalisation.

    One voxel's intensity: T1c separates the rim almost perfectly, the other sequences barely.
    A linear classifier on 5×5×5 neighbourhoods, trained on 6 cases and tested on 4 others,
    recovers the rim from each weak sequence well above chance but still clearly below T1c —
    the weak cues a model trained with T1c's help can learn to read.
    """
    per_case = []
    for i in range(10):
        ph = make_phantom(2, i, 48)
        x = normalise_image(ph.image, brain_mask(ph.image))
        lesion = ph.label > 0
        per_case.append(
            ([_neighbourhoods(x[c], lesion) for c in range(4)], ph.label[lesion] == ENHANCING)
        )
    y_train = np.concatenate([y for _, y in per_case[:6]])
    y_test = np.concatenate([y for _, y in per_case[6:]])
    voxel, context = {}, {}
    for c, m in enumerate(MODALITIES):
        train = np.concatenate([f[c] for f, _ in per_case[:6]])
        test = np.concatenate([f[c] for f, _ in per_case[6:]])
        centre = test[:, test.shape[1] // 2]
        auc = roc_auc_score(y_test, centre)
        voxel[m] = max(auc, 1 - auc)
        clf = LogisticRegression(max_iter=500).fit(train, y_train)
        context[m] = roc_auc_score(y_test, clf.decision_function(test))
    assert voxel["t1c"] > 0.97 and context["t1c"] > 0.97, (voxel, context)
    for weak in ("flair", "t1", "t2"):
        assert voxel[weak] < 0.75, voxel
        assert 0.65 < context[weak] < context["t1c"] - 0.05, context


def test_tumour_scale_enlarges_tumours_only() -> None:
    base = [make_phantom(4, i, SIZE) for i in range(6)]
    big = [make_phantom(4, i, SIZE, tumour_scale=1.6) for i in range(6)]
    assert sum((p.label > 0).sum() for p in big) > 2 * sum((p.label > 0).sum() for p in base)
    for a, b in zip(base, big, strict=True):
        np.testing.assert_array_equal(brain_mask(a.image), brain_mask(b.image))
        np.testing.assert_allclose(a.affine, b.affine)
    with pytest.raises(SynthArgumentError, match="tumour_scale"):
        synth_mri("unused", tumour_scale=5.0, progress=False)


def test_some_cases_have_no_enhancing_tumour() -> None:
    kinds = [bool((make_phantom(0, i, 24).label == ENHANCING).any()) for i in range(40)]
    assert 0 < kinds.count(False) < 10
    labels = make_phantom(0, 0, SIZE).label
    assert (labels == NECROTIC).any() or (labels == ENHANCING).any()


def test_bad_arguments_and_non_empty_output(tmp_path: Path, capsys) -> None:
    with pytest.raises(SynthArgumentError, match="size must be in"):
        synth_mri(tmp_path / "a", size=8, progress=False)
    assert not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("x")
    assert main(["data", "synth", "mri", "--out", str(tmp_path / "b"), "--cases", "1"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["keep.txt"]


def test_cli_writes_and_overwrites(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ph"
    args = ["data", "synth", "mri", "--out", str(out), "--cases", "2", "--size", "24"]
    assert main([*args, "--seed", "1", "--no-progress"]) == 0
    first = read_case(load_mri(out, "brats").cases[0])
    assert main([*args, "--seed", "2", "--no-progress", "--overwrite"]) == 0
    second = read_case(load_mri(out, "brats").cases[0])
    assert not np.array_equal(first.image, second.image)
    assert sorted(p.name for p in out.iterdir()) == [
        "SynthBrain_001",
        "SynthBrain_002",
        "synth_mri.json",
    ]
    assert "wrote 2 cases" in capsys.readouterr().out

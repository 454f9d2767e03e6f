"""MRI readers (BRATS-2015 .mha, BraTS NIfTI 2018–2021 / 2023, Decathlon Task01) on hand-made
volumes, orientation handling, label conventions, ``data check`` and bad input.

Each fixture builds a canonical case (RAS voxel order, known affine) and stores it flipped or
axis-permuted with a header worked out by hand here, so the reader's reorientation is checked
against an independent construction rather than against the library's own writer.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from lococo.cli.main import main
from lococo.data.mri import ENHANCING, MODALITIES, load_mri, parse_modality, read_case
from lococo.data.mri.check import check_dataset, summary_lines
from lococo.data.mri.volumes import read_header
from lococo.errors import DataError, LococoError

SHAPE = (7, 6, 5)  # canonical [R, A, S]
SPACING = (1.5, 2.0, 3.0)  # mm along R, A, S
ORIGIN = np.array([-10.0, 20.0, 5.0])


@dataclass
class Canonical:
    """One case in canonical RAS voxel order: ``image`` 4×x×y×z (FLAIR, T1, T1c, T2) and the
    unified labels ``label`` x×y×z."""

    image: np.ndarray
    label: np.ndarray

    @property
    def affine(self) -> np.ndarray:
        a = np.diag([*SPACING, 1.0])
        a[:3, 3] = ORIGIN
        return a

    def expected_image(self) -> np.ndarray:
        return self.image.transpose(0, 3, 2, 1).astype(np.float32)

    def expected_label(self) -> np.ndarray:
        return self.label.transpose(2, 1, 0)


def make_canonical(seed: int) -> Canonical:
    rng = np.random.default_rng(seed)
    image = rng.integers(1, 3000, size=(4, *SHAPE)).astype(np.int16)
    label = rng.integers(0, 4, size=SHAPE).astype(np.uint8)
    return Canonical(image, label)


def lps_storage(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stored with axes pointing Left, Posterior, Superior (first two flipped)."""
    nx, ny, _ = SHAPE
    sx, sy, sz = SPACING
    affine = np.array(
        [
            [-sx, 0, 0, ORIGIN[0] + (nx - 1) * sx],
            [0, -sy, 0, ORIGIN[1] + (ny - 1) * sy],
            [0, 0, sz, ORIGIN[2]],
            [0, 0, 0, 1],
        ]
    )
    return array[::-1, ::-1].copy(), affine


def permuted_storage(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stored axes (A, R, I): C[i, j, k] = A[j, i, nz−1−k]."""
    nz = SHAPE[2]
    sx, sy, sz = SPACING
    stored = np.swapaxes(array, 0, 1)[:, :, ::-1].copy()
    affine = np.array(
        [
            [0, sx, 0, ORIGIN[0]],
            [sy, 0, 0, ORIGIN[1]],
            [0, 0, -sz, ORIGIN[2] + (nz - 1) * sz],
            [0, 0, 0, 1],
        ]
    )
    return stored, affine


def save_nifti(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), str(path))


def unified_to_file(label: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Invert a file → unified label map on ``label`` (first file value for each class)."""
    inverse: dict[int, int] = {}
    for src, dst in mapping.items():
        inverse.setdefault(dst, src)
    lut = np.array([inverse[i] for i in range(4)], dtype=np.uint8)
    return lut[label]


BRATS_2018 = {0: 0, 1: 1, 2: 2, 4: 3}
BRATS_2023 = {0: 0, 1: 1, 2: 2, 3: 3}
DECATHLON = {0: 0, 1: 2, 2: 1, 3: 3}


def write_brats(root: Path, case: str, c: Canonical, *, naming: str, storage=lps_storage) -> Path:
    folder = root / case
    if naming == "2018":
        sep, names, mapping = "_", ("flair", "t1", "t1ce", "t2"), BRATS_2018
    else:
        sep, names, mapping = "-", ("t2f", "t1n", "t1c", "t2w"), BRATS_2023
    for channel, name in enumerate(names):
        save_nifti(folder / f"{case}{sep}{name}.nii.gz", *storage(c.image[channel]))
    save_nifti(folder / f"{case}{sep}seg.nii.gz", *storage(unified_to_file(c.label, mapping)))
    return folder


def write_mha(path: Path, array: np.ndarray, *, permuted: bool) -> None:
    """Store a canonical RAS array as MetaImage with an LPS header (ITK's world frame)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nx, ny, nz = SHAPE
    sx, sy, sz = SPACING
    if permuted:
        stored = np.swapaxes(array, 0, 1)[:, :, ::-1]
        direction = (0.0, -1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # columns: A, R, I in LPS
        spacing = (sy, sx, sz)
        origin = (-ORIGIN[0], -ORIGIN[1], ORIGIN[2] + (nz - 1) * sz)
    else:
        stored = array[::-1, ::-1]  # index increases towards L, P, S: ITK's identity direction
        direction = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        spacing = (sx, sy, sz)
        origin = (-(ORIGIN[0] + (nx - 1) * sx), -(ORIGIN[1] + (ny - 1) * sy), ORIGIN[2])
    img = sitk.GetImageFromArray(np.ascontiguousarray(stored.transpose(2, 1, 0)))
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(direction)
    sitk.WriteImage(img, str(path))


def write_brats2015(root: Path, group: str, patient: str, c: Canonical, label: np.ndarray) -> Path:
    folder = root / group / patient
    for channel, tag in enumerate(("MR_Flair", "MR_T1", "MR_T1c", "MR_T2")):
        name = f"VSD.Brain.XX.O.{tag}.{54500 + channel}"
        write_mha(folder / name / f"{name}.mha", c.image[channel], permuted=channel % 2 == 1)
    name = "VSD.Brain_3more.XX.O.OT.54599"
    write_mha(folder / name / f"{name}.mha", label, permuted=False)
    return folder


DECATHLON_META = {
    "name": "BRATS",
    "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
    "labels": {
        "0": "background",
        "1": "edema",
        "2": "non-enhancing tumor",
        "3": "enhancing tumour",
    },
}


def write_decathlon(root: Path, cases: dict[str, Canonical], order: list[str]) -> Path:
    """``order``: the canonical modality stored in each channel."""
    meta = dict(DECATHLON_META)
    names = {"flair": "FLAIR", "t1": "T1w", "t1c": "t1gd", "t2": "T2w"}
    meta["modality"] = {str(i): names[m] for i, m in enumerate(order)}
    meta["training"] = []
    for cid, c in cases.items():
        stacked = np.stack([c.image[MODALITIES.index(m)] for m in order], axis=-1)
        stored, affine = lps_storage(stacked)
        save_nifti(root / "imagesTr" / f"{cid}.nii.gz", stored, affine)
        save_nifti(
            root / "labelsTr" / f"{cid}.nii.gz", *lps_storage(unified_to_file(c.label, DECATHLON))
        )
        meta["training"].append(
            {"image": f"./imagesTr/{cid}.nii.gz", "label": f"./labelsTr/{cid}.nii.gz"}
        )
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def assert_reads_back(vol, c: Canonical) -> None:
    np.testing.assert_array_equal(vol.image, c.expected_image())
    np.testing.assert_array_equal(vol.label, c.expected_label())
    np.testing.assert_allclose(vol.affine, c.affine, atol=1e-5)
    np.testing.assert_allclose(vol.spacing, SPACING[::-1], atol=1e-5)
    assert vol.image.dtype == np.float32 and vol.label.dtype == np.uint8
    assert vol.brain.all()  # every voxel of the fixtures is non-zero


# ----------------------------------------------------------------------------- readers


@pytest.mark.parametrize("naming", ["2018", "2023"])
@pytest.mark.parametrize("storage", [lps_storage, permuted_storage])
def test_brats_nifti_reads_canonical_arrays_and_labels(tmp_path: Path, naming, storage) -> None:
    c = make_canonical(1)
    write_brats(tmp_path, "Case_A", c, naming=naming, storage=storage)
    data = load_mri(tmp_path, "brats")
    assert [x.case_id for x in data.cases] == ["Case_A"]
    assert_reads_back(read_case(data.cases[0]), c)


def test_big_endian_nifti(tmp_path: Path) -> None:
    c = make_canonical(9)
    folder = tmp_path / "BE"
    for channel, name in enumerate(("flair", "t1", "t1ce", "t2", "seg")):
        array = c.image[channel] if name != "seg" else unified_to_file(c.label, BRATS_2018)
        stored, affine = lps_storage(array)
        header = nib.Nifti1Header().as_byteswapped(">")
        header.set_data_dtype(">i2" if name != "seg" else "u1")
        folder.mkdir(exist_ok=True)
        nib.save(nib.Nifti1Image(stored, affine, header=header), str(folder / f"BE_{name}.nii.gz"))
    assert nib.load(str(folder / "BE_t1.nii.gz")).get_data_dtype() == np.dtype(">i2")
    assert_reads_back(read_case(load_mri(tmp_path, "brats").cases[0]), c)


def test_enhancing_value_per_format(tmp_path: Path) -> None:
    """A label volume that is 4 everywhere is enhancing in 2018–2021; 3 is enhancing in 2023."""
    c = make_canonical(2)
    for naming, value in (("2018", 4), ("2023", 3)):
        root = tmp_path / naming
        folder = write_brats(root, "X", c, naming=naming)
        seg = next(folder.glob("*seg.nii.gz"))
        save_nifti(seg, *lps_storage(np.full(SHAPE, value, np.uint8)))
        vol = read_case(load_mri(root, "brats").cases[0])
        assert (vol.label == ENHANCING).all()
        assert vol.target.all()


def test_brats2015_mha_with_lps_and_permuted_headers(tmp_path: Path) -> None:
    c = make_canonical(3)
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 5, size=SHAPE).astype(np.uint8)  # BRATS-2015 values 0..4
    write_brats2015(tmp_path, "HGG", "brats_2013_pat0001_1", c, raw)
    write_brats2015(tmp_path, "LGG", "brats_tcia_pat100_1", make_canonical(4), raw)
    data = load_mri(tmp_path, "brats2015")
    assert [x.case_id for x in data.cases] == ["brats_2013_pat0001_1", "brats_tcia_pat100_1"]
    assert [x.group for x in data.cases] == ["HGG", "LGG"]
    vol = read_case(data.cases[0])
    expected = np.array([0, 1, 2, 1, 3], dtype=np.uint8)[raw]  # necrosis & non-enhancing → core
    assert_reads_back(vol, Canonical(c.image, expected))


def test_same_case_reads_identically_from_mha_and_nifti(tmp_path: Path) -> None:
    c = make_canonical(5)
    write_brats(tmp_path / "nii", "P", c, naming="2018", storage=permuted_storage)
    raw = unified_to_file(c.label, {0: 0, 1: 1, 2: 2, 4: 3})
    write_brats2015(tmp_path / "mha", "HGG", "P", c, raw)
    a = read_case(load_mri(tmp_path / "nii", "brats").cases[0])
    b = read_case(load_mri(tmp_path / "mha", "brats2015").cases[0])
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-5)


@pytest.mark.parametrize(
    "order", [["flair", "t1", "t1c", "t2"], ["t2", "t1c", "flair", "t1"]], ids=["msd", "shuffled"]
)
def test_decathlon_channel_order_from_dataset_json(tmp_path: Path, order) -> None:
    cases = {"BRATS_001": make_canonical(6), "BRATS_002": make_canonical(7)}
    write_decathlon(tmp_path, cases, order)
    data = load_mri(tmp_path, "decathlon")
    assert [x.case_id for x in data.cases] == ["BRATS_001", "BRATS_002"]
    assert data.cases[0].channels == {m: order.index(m) for m in MODALITIES}
    for case in data.cases:
        assert_reads_back(read_case(case), cases[case.case_id])


def test_header_only_geometry_matches_full_read(tmp_path: Path) -> None:
    c = make_canonical(8)
    write_brats(tmp_path, "H", c, naming="2018", storage=permuted_storage)
    case = load_mri(tmp_path, "brats").cases[0]
    shape, spacing = read_header(case)
    vol = read_case(case)
    assert shape == vol.shape == SHAPE[::-1]
    np.testing.assert_allclose(spacing, vol.spacing)


def test_check_summary_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {f"BRATS_00{i}": make_canonical(10 + i) for i in range(3)}
    write_decathlon(tmp_path, cases, ["flair", "t1", "t1c", "t2"])
    summary = check_dataset(tmp_path, "decathlon", progress=False)
    assert summary["format"] == "decathlon" and summary["cases"] == 3
    assert summary["modalities"] == list(MODALITIES)
    assert summary["shape"] == list(SHAPE[::-1])
    assert summary["spacing"] == list(SPACING[::-1])
    direct = sum(np.bincount(c.label.ravel(), minlength=4) for c in cases.values())
    assert list(summary["label_voxels"].values()) == direct.tolist()
    assert any("label voxels" in line for line in summary_lines(summary))
    assert main(["data", "check", str(tmp_path), "--format", "decathlon", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {"format", "cases", "modalities", "shape"} <= set(printed)
    assert printed["cases"] == 3


# ----------------------------------------------------------------------------- bad input


def _cli_error(root: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert main(["data", "check", str(root), "--format", fmt, "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lococo: error:")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing written
    return err


def test_missing_modality(tmp_path: Path, capsys) -> None:
    folder = write_brats(tmp_path, "C1", make_canonical(20), naming="2018")
    (folder / "C1_t1ce.nii.gz").unlink()
    with pytest.raises(DataError, match="case C1: missing t1c volume"):
        load_mri(tmp_path, "brats")
    assert "C1_t1ce.nii.gz" in _cli_error(tmp_path, "brats", capsys)


def test_missing_modality_brats2015(tmp_path: Path) -> None:
    c = make_canonical(21)
    folder = write_brats2015(tmp_path, "HGG", "pat1", c, c.label)
    for sub in folder.glob("VSD.Brain.XX.O.MR_T2.*"):
        for f in sub.iterdir():
            f.unlink()
        sub.rmdir()
    with pytest.raises(DataError, match="case pat1: missing t2 volume"):
        load_mri(tmp_path, "brats2015")


def test_modalities_of_different_shapes(tmp_path: Path, capsys) -> None:
    folder = write_brats(tmp_path, "C2", make_canonical(22), naming="2018")
    save_nifti(folder / "C2_t2.nii.gz", np.ones((7, 6, 4), np.int16), np.eye(4))
    with pytest.raises(DataError, match=r"case C2: shape 4×6×7 .* differs from C2_flair"):
        read_case(load_mri(tmp_path, "brats").cases[0])
    assert "C2_t2.nii.gz" in _cli_error(tmp_path, "brats", capsys)


def test_label_with_unexpected_values(tmp_path: Path, capsys) -> None:
    folder = write_brats(tmp_path, "C3", make_canonical(23), naming="2018")
    bad = np.zeros(SHAPE, np.uint8)
    bad[0, 0, 0] = 3  # 3 is not a 2018–2021 label
    bad[1, 0, 0] = 7
    save_nifti(folder / "C3_seg.nii.gz", *lps_storage(bad))
    with pytest.raises(DataError, match=r"case C3: unexpected label values \[3, 7\]"):
        read_case(load_mri(tmp_path, "brats").cases[0])
    assert "C3_seg.nii.gz" in _cli_error(tmp_path, "brats", capsys)


def test_truncated_nifti(tmp_path: Path, capsys) -> None:
    folder = write_brats(tmp_path, "C4", make_canonical(24), naming="2018")
    path = folder / "C4_t1.nii.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2])[:-20])
    with pytest.raises(DataError, match="case C4: cannot read volume"):
        read_case(load_mri(tmp_path, "brats").cases[0])
    assert "C4_t1.nii.gz" in _cli_error(tmp_path, "brats", capsys)


def test_truncated_mha(tmp_path: Path, capsys) -> None:
    c = make_canonical(25)
    folder = write_brats2015(tmp_path, "HGG", "pat2", c, c.label)
    path = next(folder.glob("VSD.Brain.XX.O.MR_T1c.*/*.mha"))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="case pat2: cannot read volume"):
        read_case(load_mri(tmp_path, "brats2015").cases[0])
    assert path.name in _cli_error(tmp_path, "brats2015", capsys)


def test_dataset_json_without_channel_names(tmp_path: Path, capsys) -> None:
    write_decathlon(tmp_path, {"BRATS_001": make_canonical(26)}, ["flair", "t1", "t1c", "t2"])
    meta = json.loads((tmp_path / "dataset.json").read_text())
    del meta["modality"]
    (tmp_path / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="no channel names"):
        load_mri(tmp_path, "decathlon")
    assert "dataset.json" in _cli_error(tmp_path, "decathlon", capsys)


def test_dataset_json_unknown_channel_name(tmp_path: Path) -> None:
    write_decathlon(tmp_path, {"BRATS_001": make_canonical(27)}, ["flair", "t1", "t1c", "t2"])
    meta = json.loads((tmp_path / "dataset.json").read_text())
    meta["modality"]["2"] = "DWI"
    (tmp_path / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="unknown channel name 'DWI'"):
        load_mri(tmp_path, "decathlon")


def test_modality_names_and_aliases() -> None:
    assert [parse_modality(n) for n in ("FLAIR", "t2f", "T1w", "t1n", "t1ce", "t1gd", "T2w")] == [
        "flair",
        "flair",
        "t1",
        "t1",
        "t1c",
        "t1c",
        "t2",
    ]
    with pytest.raises(LococoError, match=r"--modality: unknown MRI modality 'dwi'") as err:
        parse_modality("dwi", option="--modality")
    assert "\n" not in str(err.value)


def test_unknown_format_and_empty_tree(tmp_path: Path) -> None:
    with pytest.raises(LococoError, match="unknown MRI format"):
        load_mri(tmp_path, "nifti")
    with pytest.raises(DataError, match="no BraTS cases found"):
        load_mri(tmp_path, "brats")
    with pytest.raises(DataError, match="no BRATS-2015 patients found"):
        load_mri(tmp_path, "brats2015")

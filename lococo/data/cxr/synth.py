"""Synthetic chest X-rays with radiology reports, written in the Open-I (NLMCXR) layout.

``synth_cxr(out, seed=0, reports=400, image_size=64)`` writes::

    OUT/ecgen-radiology/<n>.xml   NLMCXR reports (uId, COMPARISON/INDICATION/FINDINGS/IMPRESSION,
                                  MeSH major/automatic, one parentImage per image)
    OUT/images/<image id>.png     8-bit grey X-ray-like images
    OUT/views.csv                 image id → view (PA, AP or LATERAL), the optional view list
    OUT/glove.txt                 GloVe-format vectors covering the reports' vocabulary
    OUT/synth_cxr.json            the generator's settings

Images: a thorax with two dark lung fields (mottled lung markings), ribs, a heart shadow, the
mediastinum and domed diaphragms, plus noise. Findings are drawn in:

=============  ======================================================  ========
finding        drawing                                                 evidence
=============  ======================================================  ========
cardiomegaly   heart shadow 1.35–1.6× wider                            strong
effusion       fluid with a meniscus filling the base of one lung      strong
mass           a 7–9 %-of-width bright disc in a lung                  strong
consolidation  a patchy bright cloud in a lower lung zone              medium
pneumothorax   a dark rim without markings at one lung's apex/side     medium
nodule         a 3 %-of-width disc, low contrast, in a lung            weak
atelectasis    a thin, faint plate at one lung base                    weak
normal         none of the above
=============  ======================================================  ========

The WEAK findings are hard to see at small image sizes while the report always names them:
the text carries information the image encoder must learn to see, which is what CMIM's
cross-modal losses are for. Reports state every finding (FINDINGS and IMPRESSION sentences)
and deny some absent ones ("No pleural effusion."); every sentence that mentions an absent
finding starts with "No". MeSH terms follow the reports (``Pleural Effusion/right/small``);
about 3 % of reports have an empty ``MeSH`` (so no labels), about 3 % have no image, sections
go missing at random and ``XXXX`` anonymisation tokens appear as in the real release. A report
is one patient with 1–3 images (a PA view, often a lateral view, sometimes an extra AP view).

GloVe vectors are class-structured: the words of one finding (``effusion``, ``pleural``,
``costophrenic`` …) are noisy copies of one random centre, other words are independent random
vectors, so words of the same finding are similar. The file also carries the real files'
quirks: a token with spaces (``". . ."``) and a duplicate word (the first vector wins).

Same arguments ⇒ identical files. The tree is built in a temporary folder and moved into place.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from lococo.data.cxr.glove import write_glove
from lococo.data.cxr.openi import IMAGE_DIR, REPORT_DIR
from lococo.data.cxr.text import tokenize
from lococo.data.zsl.synth import SynthArgumentError
from lococo.io import atomic_open, write_json


@dataclass(frozen=True)
class Finding:
    """A synthetic finding: its label, MeSH heading, sentences and drawing strength."""

    name: str
    label: str
    mesh: str  # heading/qualifiers; "{side}" is filled in
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    impression: str
    keywords: tuple[str, ...]  # words that only appear where the finding is named or denied
    evidence: str
    weight: float  # how often it is drawn


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "cardiomegaly",
        "Cardiomegaly",
        "Cardiomegaly/mild",
        ("The heart is enlarged.", "There is mild cardiomegaly.", "Cardiomegaly is present."),
        ("No cardiomegaly.",),
        "Cardiomegaly.",
        ("cardiomegaly", "enlarged"),
        "strong",
        0.20,
    ),
    Finding(
        "effusion",
        "Effusion",
        "Pleural Effusion/{side}/small",
        (
            "Small {side} pleural effusion.",
            "There is a {side} pleural effusion.",
            "Blunting of the {side} costophrenic angle from effusion.",
        ),
        ("No pleural effusion.", "No pleural effusions."),
        "{Side} pleural effusion.",
        ("effusion", "effusions", "costophrenic"),
        "strong",
        0.18,
    ),
    Finding(
        "mass",
        "Mass",
        "Mass/lung/{side}",
        ("There is a {side} lung mass.", "A large mass projects over the {side} lung."),
        ("No mass.", "No focal masses."),
        "{Side} lung mass.",
        ("mass", "masses"),
        "strong",
        0.10,
    ),
    Finding(
        "consolidation",
        "Consolidation",
        "Consolidation/lung/base/{side}",
        (
            "Focal airspace opacity in the {side} lower lobe.",
            "There is {side} lower lobe consolidation.",
        ),
        ("No focal consolidation.", "No focal airspace disease."),
        "{Side} lower lobe consolidation.",
        ("consolidation", "opacity", "airspace"),
        "medium",
        0.14,
    ),
    Finding(
        "pneumothorax",
        "Pneumothorax",
        "Pneumothorax/{side}/small",
        ("Small {side} apical pneumothorax.", "There is a {side} pneumothorax."),
        ("No pneumothorax.",),
        "{Side} pneumothorax.",
        ("pneumothorax",),
        "medium",
        0.12,
    ),
    Finding(
        "nodule",
        "Nodule",
        "Nodule/lung/upper lobe/{side}",
        ("A small nodule in the {side} upper lobe.", "There is a {side} pulmonary nodule."),
        ("No pulmonary nodules.", "No suspicious nodules."),
        "{Side} pulmonary nodule.",
        ("nodule", "nodules"),
        "weak",
        0.12,
    ),
    Finding(
        "atelectasis",
        "Atelectasis",
        "Pulmonary Atelectasis/base/{side}",
        ("Subsegmental atelectasis at the {side} base.", "There is {side} basilar atelectasis."),
        ("No atelectasis.",),
        "{Side} basilar atelectasis.",
        ("atelectasis", "basilar", "subsegmental"),
        "weak",
        0.14,
    ),
)
FINDING_NAMES = tuple(f.name for f in FINDINGS)
NEUTRAL = (
    "The mediastinal contours are normal.",
    "Osseous structures are intact.",
    "The XXXX are intact.",
    "Visualized osseous structures are unremarkable.",
)
NORMAL_SENTENCES = (
    "The lungs are clear.",
    "Heart size is normal.",
    "The lungs are clear bilaterally.",
)
NORMAL_IMPRESSIONS = (
    "No acute cardiopulmonary abnormality.",
    "No active disease.",
    "Normal chest x-XXXX.",
)
INDICATIONS = (
    "XXXX-year-old male with cough.",
    "Chest pain.",
    "Shortness of breath.",
    "XXXX, fever.",
)
COMPARISONS = ("None.", "Chest radiographs XXXX.", "XXXX, XXXX.")
P_NORMAL = 0.35
P_NO_IMAGE = 0.03
P_EMPTY_MESH = 0.03
GLOVE_DIM = 50
OURS = (REPORT_DIR, IMAGE_DIR, "views.csv", "glove.txt", "synth_cxr.json")


@dataclass
class SynthCXRInfo:
    root: Path
    reports: int
    images: int
    reports_without_images: int
    label_counts: dict[str, int]
    seconds: float


# ----------------------------------------------------------------------------- images


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    from PIL import Image

    small = rng.standard_normal((cells, cells)).astype(np.float32)
    img = Image.fromarray(small, mode="F").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def _ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float):
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2


def _soft(d: np.ndarray, edge: float = 0.08) -> np.ndarray:
    """1 inside an ellipse distance ``d < 1``, 0 outside, with a soft rim."""
    return np.clip((1.0 - d) / edge, 0.0, 1.0)


def render_frontal(findings: dict[str, str], rng: np.random.Generator, size: int) -> np.ndarray:
    """A frontal (PA/AP) chest image in ``[0, 1]`` showing ``findings`` (name → side)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    # noise is drawn first, so an image with or without a finding differs only by the finding
    noise = rng.normal(0.0, 0.02, (size, size)).astype(np.float32)
    jit = lambda s: float(rng.normal(0.0, s))  # noqa: E731
    img = np.full((size, size), 0.08, np.float32)
    body = _soft(_ellipse(yy, xx, 0.58 + jit(0.01), 0.5 + jit(0.01), 0.52, 0.46), 0.05)
    img += 0.30 * body
    lungs = {}
    for side, cx in (("right", 0.31), ("left", 0.69)):  # patient's right lung is image left
        cy, ry, rx = 0.47 + jit(0.01), 0.30 + jit(0.01), 0.16 + jit(0.005)
        lungs[side] = (cy, cx + jit(0.01), ry, rx)
    lung_mask = np.zeros_like(img)
    for cy, cx, ry, rx in lungs.values():
        lung_mask = np.maximum(lung_mask, _soft(_ellipse(yy, xx, cy, cx, ry, rx)))
    markings = 0.035 * _smooth_noise(rng, size, max(4, size // 6))
    img -= lung_mask * (0.24 - markings)
    for k in range(7):  # ribs: bright arcs across each lung field
        y0 = 0.22 + 0.085 * k + jit(0.005)
        arc = y0 + 0.18 * (xx - 0.5) ** 2
        img += 0.05 * lung_mask * np.exp(-(((yy - arc) / 0.012) ** 2))
    img += 0.18 * np.exp(-(((xx - 0.5) / 0.045) ** 2)) * body  # spine / mediastinum
    scale = float(rng.uniform(1.35, 1.6)) if "cardiomegaly" in findings else 1.0
    heart = _soft(_ellipse(yy, xx, 0.66, 0.54, 0.12, 0.12 * scale), 0.1)
    img = img * (1 - heart) + heart * np.maximum(img, 0.42)
    dome = 0.80 + 0.05 * np.cos((xx - 0.5) * 2 * np.pi)
    img = np.maximum(img, 0.40 * (yy > dome) * body)

    def in_lung(side: str, fy: float, fx: float) -> tuple[float, float]:
        cy, cx, ry, rx = lungs[side]
        return cy + fy * ry, cx + fx * rx

    for name, side in findings.items():
        cy, cx, ry, rx = lungs[side]
        if name == "effusion":
            level = cy + ry * float(rng.uniform(0.35, 0.55))
            meniscus = level - 0.06 * np.abs(xx - cx) / rx
            fluid = _soft(_ellipse(yy, xx, cy, cx, ry * 1.05, rx * 1.05), 0.05)
            fluid *= np.clip((yy - meniscus) / 0.02, 0, 1)
            img = img * (1 - fluid) + fluid * 0.45
        elif name == "mass":
            my, mx = in_lung(side, float(rng.uniform(-0.4, 0.2)), float(rng.uniform(-0.3, 0.3)))
            r = float(rng.uniform(0.07, 0.09))
            img += 0.28 * _soft(_ellipse(yy, xx, my, mx, r, r), 0.3)
        elif name == "consolidation":
            cloud = np.zeros_like(img)
            by, bx = in_lung(side, float(rng.uniform(0.2, 0.5)), float(rng.uniform(-0.3, 0.3)))
            for _ in range(5):
                oy, ox = by + jit(0.04), bx + jit(0.04)
                cloud += np.exp(-(((yy - oy) ** 2 + (xx - ox) ** 2) / (2 * 0.035**2)))
            img += 0.16 * np.clip(cloud, 0, 1.5) * lung_mask
        elif name == "pneumothorax":
            rim = _soft(_ellipse(yy, xx, cy, cx, ry, rx), 0.05)
            inner = _soft(
                _ellipse(
                    yy,
                    xx,
                    cy + 0.06,
                    cx + (0.04 if side == "right" else -0.04),
                    ry * 0.85,
                    rx * 0.8,
                ),
                0.05,
            )
            gap = np.clip(rim - inner, 0, 1) * (yy < cy + 0.3 * ry)
            img -= gap * (0.06 + markings)
            img += (
                0.02
                * np.clip(
                    inner - _soft(_ellipse(yy, xx, cy + 0.06, cx, ry * 0.8, rx * 0.75), 0.05), 0, 1
                )
                * (yy < cy)
            )
        elif name == "nodule":
            ny, nx = in_lung(side, float(rng.uniform(-0.6, -0.1)), float(rng.uniform(-0.4, 0.4)))
            r = 0.03
            img += 0.09 * _soft(_ellipse(yy, xx, ny, nx, r, r), 0.4)
        elif name == "atelectasis":
            ay = cy + ry * float(rng.uniform(0.45, 0.65))
            tilt = float(rng.uniform(-0.15, 0.15))
            band = np.exp(-(((yy - ay - tilt * (xx - cx)) / 0.012) ** 2))
            band *= np.abs(xx - cx) < rx * 0.8
            img += 0.07 * band
    img += noise
    return np.clip(img, 0.0, 1.0)


def render_lateral(findings: dict[str, str], rng: np.random.Generator, size: int) -> np.ndarray:
    """A lateral view (dropped by the frontal-only option; shows only cardiomegaly)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    img = np.full((size, size), 0.08, np.float32)
    body = _soft(_ellipse(yy, xx, 0.56, 0.5, 0.5, 0.36), 0.05)
    img += 0.3 * body
    lung = _soft(_ellipse(yy, xx, 0.46, 0.5, 0.3, 0.24))
    img -= 0.2 * lung
    img += 0.2 * np.exp(-(((xx - 0.82) / 0.04) ** 2)) * body  # spine at the back
    w = 0.18 if "cardiomegaly" in findings else 0.13
    heart = _soft(_ellipse(yy, xx, 0.64, 0.34, 0.13, w), 0.1)
    img = img * (1 - heart) + heart * 0.42
    img += rng.normal(0.0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0)


# ----------------------------------------------------------------------------- reports


@dataclass
class _Report:
    number: int
    findings: dict[str, str]  # finding name -> side
    sections: dict[str, str]
    mesh_major: list[str]
    mesh_automatic: list[str]
    images: list[tuple[str, str]]  # (image id, view)


def _sample_findings(rng: np.random.Generator) -> dict[str, str]:
    if rng.random() < P_NORMAL:
        return {}
    weights = np.array([f.weight for f in FINDINGS])
    k = 1 if rng.random() < 0.6 else 2
    chosen = rng.choice(len(FINDINGS), size=k, replace=False, p=weights / weights.sum())
    return {FINDINGS[i].name: str(rng.choice(["right", "left"])) for i in sorted(chosen)}


def _fill(template: str, side: str) -> str:
    return template.replace("{side}", side).replace("{Side}", side.capitalize())


def make_report(number: int, rng: np.random.Generator) -> _Report:
    """Findings, sections, MeSH terms and image ids of report ``number``."""
    found = _sample_findings(rng)
    by_name = {f.name: f for f in FINDINGS}
    sentences: list[str] = []
    for name, side in found.items():
        sentences.append(_fill(str(rng.choice(by_name[name].positive)), side))
    for f in FINDINGS:
        if f.name not in found and rng.random() < 0.4:
            sentences.append(str(rng.choice(f.negative)))
    if not found:
        sentences.insert(0, str(rng.choice(NORMAL_SENTENCES)))
    if rng.random() < 0.5:
        sentences.append(str(rng.choice(NEUTRAL)))
    order = rng.permutation(len(sentences))
    findings_text = " ".join(sentences[i] for i in order)
    if found:
        impression = " ".join(_fill(by_name[n].impression, s) for n, s in found.items())
    else:
        impression = str(rng.choice(NORMAL_IMPRESSIONS))
    sections = {"FINDINGS": findings_text, "IMPRESSION": impression}
    if rng.random() < 0.7:
        sections["INDICATION"] = str(rng.choice(INDICATIONS))
    if rng.random() < 0.6:
        sections["COMPARISON"] = str(rng.choice(COMPARISONS))
    if rng.random() < 0.05:  # impression only, as in some real reports
        del sections["FINDINGS"]
    major = [_fill(by_name[n].mesh, s) for n, s in found.items()] or ["normal"]
    if rng.random() < 0.15:
        major.append("Spine/degenerative/mild")
    automatic = [by_name[n].label.lower() for n in found if rng.random() < 0.3]
    if rng.random() < P_EMPTY_MESH:
        major, automatic = [], []
    images: list[tuple[str, str]] = []
    if rng.random() >= P_NO_IMAGE:
        series = int(rng.integers(1, 3000))
        views = ["PA"] + (["LATERAL"] if rng.random() < 0.6 else [])
        views += ["AP"] if rng.random() < 0.15 else []
        for k, view in enumerate(views, start=1):
            images.append((f"CXR{number}_{k}_IM-{series:04d}-{1000 * k + 1:04d}", view))
    return _Report(number, found, sections, major, automatic, images)


def report_xml(report: _Report) -> str:
    """The NLMCXR XML text of ``report``."""
    texts = "".join(
        f'        <AbstractText Label="{label}">{escape(report.sections[label])}</AbstractText>\n'
        for label in ("COMPARISON", "INDICATION", "FINDINGS", "IMPRESSION")
        if label in report.sections
    )
    mesh = "".join(f"    <major>{escape(t)}</major>\n" for t in report.mesh_major)
    mesh += "".join(f"    <automatic>{escape(t)}</automatic>\n" for t in report.mesh_automatic)
    images = "".join(
        f"  <parentImage id={quoteattr(image_id)}>\n"
        f"    <caption>Xray Chest {view}</caption>\n"
        f'    <panel type="single"><url>/synthetic/{escape(image_id)}.jpg</url></panel>\n'
        f"  </parentImage>\n"
        for image_id, view in report.images
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<eCitation>\n  <meta type="rr"/>\n'
        f'  <uId id="CXR{report.number}"/>\n  <pmcId id="{report.number}"/>\n'
        '  <MedlineCitation Owner="synthetic" Status="supplied">\n'
        '    <Article PubModel="Electronic">\n'
        "      <ArticleTitle>Synthetic chest radiograph report</ArticleTitle>\n"
        "      <Abstract>\n" + texts + "      </Abstract>\n    </Article>\n"
        "  </MedlineCitation>\n"
        + ("  <MeSH>\n" + mesh + "  </MeSH>\n" if mesh else "  <MeSH/>\n")
        + images
        + "</eCitation>\n"
    )


# ----------------------------------------------------------------------------- GloVe


def template_texts() -> list[str]:
    """Every sentence the generator can write (with both sides), for the vocabulary."""
    out: list[str] = [*NEUTRAL, *NORMAL_SENTENCES, *NORMAL_IMPRESSIONS, *INDICATIONS, *COMPARISONS]
    for f in FINDINGS:
        for t in (*f.positive, *f.negative, f.impression, f.mesh):
            out += [_fill(t, "right"), _fill(t, "left")]
    return out


def glove_vectors(words: list[str], seed: int, dim: int) -> np.ndarray:
    """Class-structured vectors: a finding's words are noisy copies of one centre."""
    rng = np.random.default_rng([seed, 7])
    centres = rng.standard_normal((len(FINDINGS), dim))
    owner: dict[str, int] = {}
    for i, f in enumerate(FINDINGS):
        for tok in (*f.keywords, *tokenize(f.mesh.split("/")[0]), *tokenize(f.label)):
            owner.setdefault(tok, i)
    vectors = rng.standard_normal((len(words), dim))
    for j, w in enumerate(words):
        if w in owner:
            vectors[j] = centres[owner[w]] + 0.35 * vectors[j]
    return (vectors / np.sqrt(dim) * 3.0).astype(np.float32)


# ----------------------------------------------------------------------------- writer


def _check(out: Path, seed: int, reports: int, image_size: int, overwrite: bool) -> None:
    for ok, message in (
        (isinstance(seed, int) and seed >= 0, f"seed must be a non-negative integer, got {seed}"),
        (reports >= 4, f"reports must be at least 4, got {reports}"),
        (32 <= image_size <= 1024, f"image_size must be in 32..1024, got {image_size}"),
    ):
        if not ok:
            raise SynthArgumentError(message)
    if out.exists() and not out.is_dir():
        raise SynthArgumentError(f"{out}: exists and is not a directory")
    if out.exists() and not overwrite:
        entries = [p.name for p in out.iterdir() if not p.name.startswith(".tmp-synth-cxr-")]
        if entries:
            raise SynthArgumentError(
                f"{out}: directory is not empty ({', '.join(sorted(entries)[:5])}); "
                "pass --overwrite to replace it"
            )


def synth_cxr(
    out: str | Path,
    *,
    seed: int = 0,
    reports: int = 400,
    image_size: int = 64,
    glove_dim: int = GLOVE_DIM,
    overwrite: bool = False,
    progress: bool = True,
) -> SynthCXRInfo:
    """Write the synthetic Open-I dataset (see the module docstring) into ``out``."""
    from PIL import Image
    from tqdm.auto import tqdm

    from lococo.data.cxr.labels import LABELS, label_vector

    out = Path(out)
    _check(out, seed, reports, image_size, overwrite)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".tmp-synth-cxr-{os.getpid()}-{time.time_ns()}"
    counts = dict.fromkeys(LABELS, 0)
    n_images = without = 0
    try:
        (tmp / REPORT_DIR).mkdir(parents=True)
        (tmp / IMAGE_DIR).mkdir()
        views: dict[str, str] = {}
        texts: list[str] = []
        for n in tqdm(range(1, reports + 1), desc="synth cxr", disable=not progress, leave=False):
            rng = np.random.default_rng([seed, n])
            rep = make_report(n, rng)
            (tmp / REPORT_DIR / f"{n}.xml").write_text(report_xml(rep), encoding="utf-8")
            texts += list(rep.sections.values())
            y = label_vector(rep.mesh_major + rep.mesh_automatic)
            for name, v in zip(LABELS, y, strict=True):
                counts[name] += int(v)
            without += not rep.images
            for image_id, view in rep.images:
                render = render_lateral if view == "LATERAL" else render_frontal
                pixels = render(rep.findings, rng, image_size)
                img = Image.fromarray(np.round(pixels * 255).astype(np.uint8), mode="L")
                img.save(tmp / IMAGE_DIR / f"{image_id}.png", format="PNG")
                views[image_id] = view
                n_images += 1
        with atomic_open(tmp / "views.csv") as handle:
            handle.write("image_id,view\n")
            handle.writelines(f"{i},{v}\n" for i, v in views.items())
        words: list[str] = []
        for text in [*texts, *template_texts()]:
            for tok in tokenize(text):
                if tok not in words and not tok.startswith("<"):
                    words.append(tok)
        vectors = glove_vectors(words, seed, glove_dim)
        dots = np.random.default_rng([seed, 8]).standard_normal((1, glove_dim)) / 3
        write_glove(
            tmp / "glove.txt",
            [*words, ". . .", words[0]],
            np.concatenate([vectors, dots.astype(np.float32), -vectors[:1]]),
        )
        write_json(
            tmp / "synth_cxr.json",
            {
                "seed": seed,
                "reports": reports,
                "image_size": image_size,
                "glove_dim": glove_dim,
                "findings": {f.name: {"label": f.label, "evidence": f.evidence} for f in FINDINGS},
            },
        )
        _move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return SynthCXRInfo(out, reports, n_images, without, counts, time.perf_counter() - start)


def _move_into_place(tmp: Path, out: Path) -> None:
    trash = tmp.with_name(tmp.name + "-old")
    for name in OURS:
        if (out / name).exists():
            trash.mkdir(exist_ok=True)
            os.replace(out / name, trash / name)
    for name in OURS:
        os.replace(tmp / name, out / name)
    shutil.rmtree(trash, ignore_errors=True)

"""One prepared GPU run: ZFS pretraining throughput through lococo against a bare PyTorch loop.

    python benchmarks/gpu.py [--out DIR] [--image-size 128] [--batch-size 64] [--steps 40]

On a CUDA machine it measures, for the ``basic`` and ``alexnet`` encoders at 128 px (paper
widths) with the real data pipeline (the synthetic CUB-layout dataset read by lococo's readers,
``ZSLImageDataset`` with random crops, the DataLoader settings of ``zfs pretrain``):

- data-loader images/s alone (the configured workers, pinned memory);
- lococo (Lightning trainer + lococo's callbacks) training images/s for each variant — fp32,
  bf16 autocast (``trainer.precision=bf16-mixed``), + channels_last, + ``torch.compile`` of the
  encoder — and a bare PyTorch loop of the same model, loader, optimiser and variant (the ratio
  lococo / bare shows the framework's overhead);
- peak GPU memory of each variant;
- FID feature extraction images/s (the FID Inception-V3 architecture with random weights:
  speed does not depend on the weights, and nothing is downloaded);
- CMIM training steps/s and samples/s through lococo's trainer: segmentation (CMIM on synthetic
  four-modality MRI slices, paper widths on CUDA) and classification (CMIM on synthetic chest
  X-rays with reports and GloVe vectors), with each command's own loader settings;
- GAN training steps/s when ``lococo.ocgan.gan_train`` provides
  ``benchmark_steps_per_second(steps, warmup, device, small) -> dict``; a section whose module
  is missing is recorded as skipped (with the reason) instead of failing the run.

It writes ``DIR/gpu.json`` and ``DIR/gpu.md`` (a table). Without CUDA it runs a reduced
version (64 px, half-width encoders, a few steps, fp32 only) to prove the script works; the
output says ``"device": "cpu"``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from lococo.config.loading import load_config
from lococo.data.zsl.synth import synth_zsl
from lococo.engine.run_dir import RunDir
from lococo.engine.trainer import build_trainer
from lococo.zfs.config import ZFSConfig
from lococo.zfs.data import load_zsl_for, zsl_images
from lococo.zfs.pretrain import build_method, seen_label_map, training_dataset

VARIANTS = ("fp32", "bf16", "bf16+channels_last", "bf16+channels_last+compile")


class StepTimer(L.Callback):
    """Wall time of the training batches after ``warmup`` (synchronising the GPU)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end: float | None = None
        self.timed = 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup and self.start is None:
            _sync()
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.start is not None:
            self.timed += 1
            _sync()
            self.end = time.perf_counter()


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _config(data: Path, encoder: str, args: argparse.Namespace, cuda: bool) -> ZFSConfig:
    profile = "paper" if cuda else "quick"
    return load_config(
        ZFSConfig,
        system="zfs",
        profile=profile,
        overrides={
            "data.path": str(data),
            "data.image_size": args.image_size,
            "data.batch_size": args.batch_size,
            "data.num_workers": args.workers,
            "data.cache_images": False,
            "encoder.name": encoder,
            "trainer.accelerator": "gpu" if cuda else "cpu",
            "trainer.devices": 1,
        },
    )


def _loader(cfg: ZFSConfig, data, module, cuda: bool) -> DataLoader:
    """The training loader of ``zfs pretrain`` (plus pinned memory on CUDA)."""
    train_set = zsl_images(
        data, data.trainval, cfg.data, train=True, labels_map=seen_label_map(data), progress=False
    )
    return DataLoader(
        training_dataset(module, train_set),
        batch_size=cfg.data.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=cfg.data.num_workers,
        persistent_workers=cfg.data.num_workers > 0,
        pin_memory=cuda,
    )


def _batches(loader: DataLoader, steps: int):
    """``steps`` batches, cycling through the loader."""
    done = 0
    while done < steps:
        for batch in loader:
            yield batch
            done += 1
            if done == steps:
                return


def loader_images_per_second(loader: DataLoader, steps: int) -> float:
    start = time.perf_counter()
    n = 0
    for images, *_ in _batches(loader, steps):
        n += images.shape[0]
    return n / (time.perf_counter() - start)


def _prepare(module, variant: str) -> None:
    if "channels_last" in variant:
        module.to(memory_format=torch.channels_last)
    if "compile" in variant:
        module.encoder = torch.compile(module.encoder)


def lococo_run(cfg: ZFSConfig, data, variant: str, steps: int, warmup: int, tmp: Path, cuda):
    """Images/s and peak memory of lococo's trainer on ``steps`` batches after ``warmup``."""
    L.seed_everything(0, verbose=False)
    module = build_method(cfg, data)
    _prepare(module, variant)
    loader = _loader(cfg, data, module, cuda)
    timer = StepTimer(warmup)
    trainer_cfg = {**cfg.trainer, "max_steps": warmup + steps, "max_epochs": 10_000}
    trainer_cfg["precision"] = "bf16-mixed" if "bf16" in variant else "32-true"
    trainer = build_trainer(RunDir(tmp / f"run-{variant}"), trainer_cfg, callbacks=[timer],
                            progress=False)  # fmt: skip
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, loader, weights_only=True)
    seconds = (timer.end or 0) - (timer.start or 0)
    return timer.timed * cfg.data.batch_size / max(seconds, 1e-9), _peak(cuda)


def bare_run(cfg: ZFSConfig, data, variant: str, steps: int, warmup: int, cuda: bool):
    """The same model, loader, optimiser and variant in a plain PyTorch loop (FC method)."""
    L.seed_everything(0, verbose=False)
    module = build_method(cfg, data)
    _prepare(module, variant)
    device = torch.device("cuda" if cuda else "cpu")
    encoder, head = module.encoder.to(device), module.classifier.to(device)
    loader = _loader(cfg, data, module, cuda)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=cfg.optim.lr)
    dtype = torch.bfloat16 if "bf16" in variant else None
    memory = torch.channels_last if "channels_last" in variant else torch.contiguous_format
    encoder.train()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start, n = 0.0, 0
    for i, (images, targets, *_) in enumerate(_batches(loader, warmup + steps)):
        if i == warmup:
            _sync()
            start = time.perf_counter()
        images = images.to(device, non_blocking=True).contiguous(memory_format=memory)
        targets = targets.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.cross_entropy(head(encoder(images).global_), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            n += images.shape[0]
    _sync()
    return n / (time.perf_counter() - start), _peak(cuda)


def _peak(cuda: bool) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None


def fid_images_per_second(batch: int, batches: int, cuda: bool) -> float:
    from lococo.metrics.inception import extract, random_fid_inception

    extractor = random_fid_inception(seed=0)
    device = torch.device("cuda" if cuda else "cpu")
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (batch, 3, 299, 299), dtype=torch.uint8, generator=gen)
              for _ in range(batches + 1)]  # fmt: skip
    extract(extractor, images[:1], device=device, progress=False)  # warm-up
    _sync()
    start = time.perf_counter()
    extract(extractor, images[1:], device=device, progress=False)
    _sync()
    return batch * batches / (time.perf_counter() - start)


def _timed_fit(module, loader, trainer_cfg: dict, steps: int, warmup: int, tmp: Path,
               callbacks=(), batch: int = 1) -> dict[str, Any]:  # fmt: skip
    """Steps/s and samples/s of lococo's trainer on ``steps`` batches after ``warmup``."""
    timer = StepTimer(warmup)
    cfg = {**trainer_cfg, "max_steps": warmup + steps, "max_epochs": 10_000}
    trainer = build_trainer(RunDir(tmp), cfg, callbacks=[timer, *callbacks], progress=False)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, loader, weights_only=True)
    seconds = max((timer.end or 0) - (timer.start or 0), 1e-9)
    return {
        "steps_per_s": round(timer.timed / seconds, 2),
        "samples_per_s": round(timer.timed * batch / seconds, 1),
        "timed_steps": timer.timed,
        "peak_gpu_gib": _peak(torch.cuda.is_available()),
    }


def cmim_seg_steps(tmp: Path, steps: int, warmup: int, cuda: bool) -> dict[str, Any]:
    """CMIM segmentation training (``cmim train --task seg``'s module, data and loader)."""
    from lococo.cmim.seg_config import SegConfig
    from lococo.cmim.seg_data import load_splits, slice_dataset
    from lococo.cmim.seg_train import EpochSlices, SegModule
    from lococo.config.loading import to_dict
    from lococo.data.mri.synth import synth_mri
    from lococo.engine.device import loader_options

    root = tmp / "mri"
    synth_mri(root, seed=0, cases=8 if not cuda else 16, size=32 if not cuda else 64,
              progress=False)  # fmt: skip
    overrides: dict[str, Any] = {"data.path": str(root), "data.slices_per_epoch": 0}
    overrides["trainer.accelerator"] = "gpu" if cuda else "cpu"
    if not cuda:
        overrides.update({"model.widths": [8, 16], "method.mi_level": 1, "data.batch_size": 4})
        overrides.update({"method.critic_hidden": 8, "data.num_workers": 0})
    cfg = load_config(SegConfig, system="cmim_seg", profile="paper" if cuda else "quick",
                      overrides=overrides)  # fmt: skip
    L.seed_everything(0, verbose=False)
    module = SegModule(to_dict(cfg))
    train_set = slice_dataset(load_splits(cfg)["train"], cfg, train=True)
    options = loader_options(cfg.data.num_workers, cfg.trainer)
    loader = DataLoader(train_set, batch_size=cfg.data.batch_size, shuffle=True, drop_last=True,
                        **options)  # fmt: skip
    result = _timed_fit(module, loader, dict(cfg.trainer), steps, warmup, tmp / "seg",
                        [EpochSlices()], cfg.data.batch_size)  # fmt: skip
    return {**result, "batch_size": cfg.data.batch_size, "loader_workers": options["num_workers"],
            "pin_memory": options["pin_memory"], "slice_size": 32 if not cuda else 64}  # fmt: skip


def cmim_cls_steps(tmp: Path, steps: int, warmup: int, cuda: bool) -> dict[str, Any]:
    """CMIM classification training (``cmim train --task cls``'s module, data and loader)."""
    from lococo.cmim.cls_config import ClsConfig
    from lococo.cmim.cls_train import ClsModule, dataset, prepare_cls_data
    from lococo.config.loading import to_dict
    from lococo.data.cxr.dataset import collate
    from lococo.data.cxr.synth import synth_cxr
    from lococo.engine.device import loader_options

    root = tmp / "cxr"
    size = 64 if not cuda else 224
    synth_cxr(root, seed=0, reports=40 if not cuda else 400, image_size=size, progress=False)
    overrides: dict[str, Any] = {"data.path": str(root), "data.image_size": size}
    overrides["trainer.accelerator"] = "gpu" if cuda else "cpu"
    if not cuda:
        overrides.update({"data.batch_size": 8, "data.num_workers": 0, "data.max_len": 32})
    cfg = load_config(ClsConfig, system="cmim_cls", profile="paper" if cuda else "quick",
                      overrides=overrides)  # fmt: skip
    data = prepare_cls_data(cfg, with_text=True)
    L.seed_everything(0, verbose=False)
    train_set = dataset(cfg, data, "train", train=True)
    dim = int(data.embeddings.shape[1]) if data.embeddings is not None else 0
    module = ClsModule(to_dict(cfg), len(data.label_names), len(data.vocab), dim)
    options = loader_options(cfg.data.num_workers, cfg.trainer)
    loader = DataLoader(train_set, batch_size=cfg.data.batch_size, shuffle=True, drop_last=True,
                        collate_fn=collate, **options)  # fmt: skip
    result = _timed_fit(module, loader, dict(cfg.trainer), steps, warmup, tmp / "cls",
                        batch=cfg.data.batch_size)  # fmt: skip
    return {**result, "batch_size": cfg.data.batch_size, "loader_workers": options["num_workers"],
            "pin_memory": options["pin_memory"], "image_size": size}  # fmt: skip


def gan_steps(tmp: Path, steps: int, warmup: int, cuda: bool) -> dict[str, Any]:
    """The hook for the OC-GAN generator/discriminator step (see the module docstring)."""
    import importlib

    gan = importlib.import_module("lococo.ocgan.gan_train")
    measure = getattr(gan, "benchmark_steps_per_second", None)
    if measure is None:
        raise ImportError("lococo.ocgan.gan_train has no benchmark_steps_per_second")
    device = torch.device("cuda" if cuda else "cpu")
    return dict(measure(steps=steps, warmup=warmup, device=device, small=not cuda))


def optional_section(name: str, measure, *args) -> dict[str, Any]:
    """Run one section; a missing module (another part of lococo not built yet) is skipped."""
    try:
        result = measure(*args)
    except ImportError as err:
        print(f"{name}: skipped ({err})", flush=True)
        return {"skipped": str(err)}
    print(f"{name}: {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/gpu-out", help="folder for gpu.json/gpu.md")
    parser.add_argument("--image-size", type=int, default=None, help="default 128 (CPU: 64)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (CPU: 16)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (CPU: 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (CPU: 1)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (CPU: 0)")
    parser.add_argument("--encoders", default="basic,alexnet")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cuda = torch.cuda.is_available()
    small = not cuda
    args.image_size = args.image_size or (64 if small else 128)
    args.batch_size = args.batch_size or (16 if small else 64)
    args.steps = args.steps or (3 if small else 40)
    args.warmup = args.warmup if args.warmup is not None else (1 if small else 10)
    args.workers = args.workers if args.workers is not None else (0 if small else 8)
    variants = [v for v in args.variants.split(",") if v]
    if small:
        variants = [v for v in variants if v == "fp32"]  # bf16/compile: GPU paths
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "loader_workers": args.workers,
        "reduced_cpu_run": small,
        "zfs": {},
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "zsl"
        synth_zsl(root, seed=0, classes=12 if small else 50, unseen=3 if small else 10,
                  images_per_class=8 if small else 40, image_size=args.image_size,
                  progress=False)  # fmt: skip
        for encoder in args.encoders.split(","):
            cfg = _config(root, encoder, args, cuda)
            if small:
                cfg.encoder.width = 0.5
            data = load_zsl_for(cfg.data)
            module = build_method(cfg, data)
            entry: dict[str, Any] = {
                "loader_images_per_s": round(
                    loader_images_per_second(_loader(cfg, data, module, cuda), args.steps), 1
                ),
                "variants": {},
            }
            for variant in variants:
                ours, peak = lococo_run(cfg, data, variant, args.steps, args.warmup, tmp, cuda)
                bare, bare_peak = bare_run(cfg, data, variant, args.steps, args.warmup, cuda)
                entry["variants"][variant] = {
                    "lococo_images_per_s": round(ours, 1),
                    "bare_images_per_s": round(bare, 1),
                    "ratio": round(ours / bare, 3),
                    "peak_gpu_gib": peak,
                    "bare_peak_gpu_gib": bare_peak,
                }
                print(f"{encoder:8s} {variant:28s} lococo {ours:9.1f} img/s  bare {bare:9.1f} "
                      f"img/s  ratio {ours / bare:.3f}  peak {peak} GiB", flush=True)  # fmt: skip
            report["zfs"][encoder] = entry
    fid_batch = 8 if small else 128
    report["fid_features_images_per_s"] = round(
        fid_images_per_second(fid_batch, 2 if small else 10, cuda), 1
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        steps, warmup = args.steps, args.warmup
        report["cmim_seg"] = optional_section("cmim seg", cmim_seg_steps, tmp, steps, warmup, cuda)
        report["cmim_cls"] = optional_section("cmim cls", cmim_cls_steps, tmp, steps, warmup, cuda)
        report["gan"] = optional_section("gan", gan_steps, tmp, steps, warmup, cuda)
    report["not_measured"] = ["SGSM training steps/s (see benchmarks/sgsm_step.py)"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "gpu.md").write_text(table(report))
    print(table(report))


def table(report: dict[str, Any]) -> str:
    lines = [
        f"device: {report['device']} · torch {report['torch']} · {report['image_size']} px · "
        f"batch {report['batch_size']} · {report['steps']} timed steps · "
        f"{report['loader_workers']} loader workers"
        + (" · REDUCED CPU RUN" if report["reduced_cpu_run"] else ""),
        "",
        "| encoder | variant | lococo img/s | bare img/s | lococo/bare | peak GPU GiB | "
        "loader img/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for encoder, entry in report["zfs"].items():
        for variant, v in entry["variants"].items():
            lines.append(
                f"| {encoder} | {variant} | {v['lococo_images_per_s']} | {v['bare_images_per_s']}"
                f" | {v['ratio']} | {v['peak_gpu_gib'] if v['peak_gpu_gib'] is not None else '–'}"
                f" | {entry['loader_images_per_s']} |"
            )
    lines += ["", f"FID feature extraction: {report['fid_features_images_per_s']} images/s", ""]
    lines += ["| training | steps/s | samples/s | batch | loader workers | peak GPU GiB |",
              "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name in ("cmim_seg", "cmim_cls", "gan"):
        entry = report.get(name) or {}
        if "skipped" in entry:
            lines.append(f"| {name} | skipped: {entry['skipped']} | | | | |")
        elif entry:
            peak = entry.get("peak_gpu_gib")
            lines.append(
                f"| {name} | {entry.get('steps_per_s')} | {entry.get('samples_per_s')} | "
                f"{entry.get('batch_size', '–')} | {entry.get('loader_workers', '–')} | "
                f"{peak if peak is not None else '–'} |"
            )
    lines.append("")
    lines.append("not measured: " + ", ".join(report["not_measured"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""Run directories, atomic weights-only checkpoints, exact resume, NaN guard."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lococo.engine.callbacks import load_checkpoint
from lococo.engine.run_dir import RunDir, open_run
from lococo.engine.trainer import build_trainer
from lococo.errors import DivergenceError, LococoError


class Toy(L.LightningModule):
    """Dropout and shuffling consume RNG, so resume equality needs restored RNG states."""

    def __init__(self, blow_up_at: int | None = None) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
        self.blow_up_at = blow_up_at

    def training_step(self, batch, idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x + 0.1 * torch.randn_like(x)), y)
        if self.blow_up_at is not None and self.global_step >= self.blow_up_at:
            loss = loss * float("nan")
        self.log("train/loss", loss, on_epoch=True)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=1e-2)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)]


def _loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 8, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16, shuffle=True)


def _fit(path, epochs, resume=False, blow_up_at=None):
    L.seed_everything(1, verbose=False)
    run = RunDir(path)
    model = Toy(blow_up_at)
    trainer = build_trainer(run, {"max_epochs": epochs, "accelerator": "cpu"}, progress=False)
    ckpt = run.last_checkpoint if resume else None
    trainer.fit(model, _loader(), ckpt_path=ckpt, weights_only=True)
    return model


def test_resumed_run_ends_where_uninterrupted_one_does(tmp_path):
    full = _fit(tmp_path / "full", epochs=4)
    _fit(tmp_path / "split", epochs=2)
    torch.manual_seed(12345)  # a different process would start from different RNG states
    resumed = _fit(tmp_path / "split", epochs=4, resume=True)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_is_weights_only_loadable_and_has_rng(tmp_path):
    _fit(tmp_path, epochs=1)
    ckpt = load_checkpoint(RunDir(tmp_path).last_checkpoint)
    assert ckpt["epoch"] == 0 and "optimizer_states" in ckpt and "lr_schedulers" in ckpt
    assert any("RNGStateCallback" in k for k in ckpt["callbacks"])
    assert not list((tmp_path / "checkpoints").glob(".*tmp"))  # no leftover temporary files
    assert (tmp_path / "logs" / "csv" / "metrics.csv").exists()
    assert list((tmp_path / "logs" / "tensorboard").glob("events.out.tfevents.*"))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    _fit(tmp_path, epochs=1)
    before = RunDir(tmp_path).last_checkpoint.read_bytes()
    with pytest.raises(DivergenceError, match=r"loss became nan at epoch 1.*last good checkpoint"):
        _fit(tmp_path, epochs=3, resume=True, blow_up_at=8)
    assert RunDir(tmp_path).last_checkpoint.read_bytes() == before


def test_open_run_refuses_to_mix_runs(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("old")
    with pytest.raises(LococoError, match="not empty; pass --resume"):
        open_run(tmp_path / "x", resume=False)
    with pytest.raises(LococoError, match=r"cannot resume: no config\.yaml"):
        open_run(tmp_path / "y", resume=True)
    assert not (tmp_path / "y").exists()


def test_checkpoint_interval_skips_intermediate_epochs_but_saves_the_last(tmp_path):
    L.seed_everything(1, verbose=False)
    run = RunDir(tmp_path)
    saved_epochs = []

    class Spy(L.Callback):
        def on_save_checkpoint(self, trainer, module, checkpoint):
            saved_epochs.append(checkpoint["epoch"])

    trainer = build_trainer(
        run,
        {"max_epochs": 3, "accelerator": "cpu"},
        checkpoint_interval_s=3600,
        callbacks=[Spy()],
        progress=False,
    )
    trainer.fit(Toy(), _loader())
    assert saved_epochs == [2]
    assert load_checkpoint(run.last_checkpoint)["epoch"] == 2

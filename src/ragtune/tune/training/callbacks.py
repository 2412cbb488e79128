"""Trainer callbacks: metrics to the tracker, and early stopping that keeps (and survives a restart with) the best
weights. Imported by :mod:`ragtune.tune.training.train` only when training starts (it needs transformers)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from ragtune.tune.training.tracking import Tracker

_LOGGED = ("loss", "learning_rate", "grad_norm", "eval_loss", "epoch", "num_input_tokens_seen")


class TrackingCallback(TrainerCallback):
    """Log each step's loss, learning rate and gradient norm, and each validation's loss, to MLflow."""

    def __init__(self, tracker: Tracker | None, mlflow_run_id: str | None) -> None:
        self.tracker = tracker
        self.mlflow_run_id = mlflow_run_id

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if self.tracker is None or self.mlflow_run_id is None or not logs:
            return
        metrics = {k: float(v) for k, v in logs.items() if k in _LOGGED and isinstance(v, (int, float))}
        self.tracker.log_metrics(self.mlflow_run_id, metrics, step=int(state.global_step))


class LossBar(TrainerCallback):
    """One progress bar over the optimizer steps (rate, ETA) showing the latest loss. It replaces transformers' own
    bar and printer, which write every logged dict as a line: with a loss logged each step (for the tracker) that is
    a line per step."""

    def __init__(self, desc: str = "train") -> None:
        self.desc = desc
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=state.max_steps, desc=self.desc, unit="step", leave=False)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StepCounter(TrainerCallback):
    """Count the optimizer steps this process ran (a resumed run runs only the remaining ones)."""

    def __init__(self) -> None:
        self.steps = 0

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.steps += 1


class BestWeights(TrainerCallback):
    """Remember the trainable weights at the lowest validation loss; with ``patience`` > 0, stop after that many
    validations without improvement. The best weights and the counter are saved in ``directory`` so that a
    resumed run keeps them; :meth:`restore` loads the best weights back into the model at the end."""

    def __init__(self, directory: Path, patience: int) -> None:
        self.directory = directory
        self.patience = patience
        self.best_loss = math.inf
        self.best_step: int | None = None
        self.bad = 0
        self.stopped_early = False
        meta = directory / "best.json"
        if meta.exists():  # a resumed run
            data = json.loads(meta.read_text())
            self.best_loss, self.best_step, self.bad = data["eval_loss"], data["step"], data["bad"]

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        loss = (metrics or {}).get("eval_loss")
        model = kw.get("model")
        if loss is None or model is None:
            return
        if loss < self.best_loss - 1e-12:
            self.best_loss, self.best_step, self.bad = float(loss), int(state.global_step), 0
            state_dict = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / "best_state.pt.tmp"
            torch.save(state_dict, tmp)
            os.replace(tmp, self.directory / "best_state.pt")
        else:
            self.bad += 1
            if self.patience and self.bad >= self.patience:
                control.should_training_stop = True
                self.stopped_early = True
        _write_json(
            self.directory / "best.json", {"eval_loss": self.best_loss, "step": self.best_step, "bad": self.bad}
        )

    def restore(self, model: Any) -> bool:
        """Load the best weights into ``model`` (True when they differ from the last step's)."""
        path = self.directory / "best_state.pt"
        if not path.exists():
            return False
        saved = torch.load(path, map_location="cpu")
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in saved.items():
                if name in params:
                    params[name].copy_(value.to(params[name].device, params[name].dtype))
        return True


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)

"""An exponential moving average of the weights (``train.ema_decay``), as the model.

After every optimizer step the average moves towards the trained weights:
``avg = decay * avg + (1 - decay) * w`` (kept in fp32). The average *is* the run's model: the
dev loss is measured on it, each checkpoint's ``model.safetensors`` holds it (so best-model
selection, the learning curve, the word checkpoints and the export all see averaged weights),
and the raw training weights travel beside it in ``raw_weights.safetensors`` so that a killed
run resumes exactly where it was. With a decay of 0.999 the average spans about the last
thousand steps, a third of the preset's run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback

RAW_FILE = "raw_weights.safetensors"
"""In a checkpoint folder of an EMA run: the raw training weights (the average is the model)."""


class WeightAverage(TrainerCallback):
    """The average, updated at each optimizer step; put it first among the callbacks so that
    later ones (the word checkpoints) see the step's updated average."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.average: dict[str, torch.Tensor] | None = None

    def reset(self, model: torch.nn.Module) -> None:
        """Start the average at the model's current weights."""
        self.average = {n: p.detach().float().clone() for n, p in model.named_parameters()}

    def on_train_begin(self, args, state, control, model=None, **kwargs) -> None:  # type: ignore[override]
        if self.average is None and model is not None:
            self.reset(model)

    @torch.no_grad()
    def on_step_end(self, args, state, control, model=None, **kwargs) -> None:  # type: ignore[override]
        if model is None:
            return
        if self.average is None:
            self.reset(model)
        assert self.average is not None
        for name, param in model.named_parameters():
            self.average[name].lerp_(param.detach().float(), 1.0 - self.decay)

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        """Overwrite the model's weights with the average (for good: the export)."""
        if self.average is None:
            return
        for name, param in model.named_parameters():
            param.copy_(self.average[name].to(param.dtype))

    @contextmanager
    def swapped_in(self, model: torch.nn.Module) -> Iterator[dict[str, torch.Tensor]]:
        """The average in the model for the duration; yields the raw weights set aside."""
        raw = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.copy_to(model)
        try:
            yield raw
        finally:
            with torch.no_grad():
                for name, param in model.named_parameters():
                    param.copy_(raw[name])


def save_raw(raw: dict[str, torch.Tensor], folder: Path) -> None:
    """Write the raw weights into a checkpoint folder (before its ``trainer_state.json``)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (RAW_FILE + ".tmp")
    save_file({k: v.contiguous().cpu() for k, v in raw.items()}, str(tmp))
    tmp.replace(folder / RAW_FILE)


def resume(ema: WeightAverage, model: torch.nn.Module, folder: Path) -> None:
    """After the Trainer loaded a checkpoint's ``model.safetensors`` (the average): take it as
    the average and put the raw weights back into the model."""
    from babylm.errors import BabylmError

    path = folder / RAW_FILE
    if not path.is_file():
        raise BabylmError(f"{folder}: no {RAW_FILE}; this checkpoint was not saved by an EMA run")
    ema.reset(model)
    raw = load_file(str(path))
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(raw[name].to(param.device, param.dtype))


def trainer_hooks(trainer_class: type) -> type:
    """``trainer_class`` with the average swapped in for evaluation and checkpoints."""

    class AveragedTrainer(trainer_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, ema: WeightAverage, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.ema = ema

        def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, float]:
            with self.ema.swapped_in(self.model):
                return super().evaluate(*args, **kwargs)

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            folder = Path(self._get_output_dir(trial)) / f"checkpoint-{self.state.global_step}"
            with self.ema.swapped_in(self.model) as raw:
                if self.args.should_save:
                    save_raw(raw, folder)
                super()._save_checkpoint(model, trial)

        def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            resume(self.ema, self.model, Path(resume_from_checkpoint))

    AveragedTrainer.__name__ = f"Averaged{trainer_class.__name__}"
    return AveragedTrainer

"""The train summary (``RUN/train/summary.json``), typed: what a finished training measured.

Written once by the train stage and read by everything that reports a run (the card, the
one-screen summary, sweeps, the results table), so its keys are spelled here and nowhere
else. Runs made before ``train.select`` existed lack the three ``select*`` fields (their
``model/`` holds the best checkpoint), and the oldest lack ``hardware``; both still read.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm.errors import BabylmError
from babylm.runfolder.files import read_json, write_json

_OPTIONAL = ("select", "selected_checkpoint", "selected_dev_loss", "hardware")
"""Fields older runs lack: left out of the file when unset, as those runs wrote it."""


@dataclass(frozen=True, kw_only=True)
class TrainSummary:
    """One training's figures, in the order ``summary.json`` lists them."""

    wall_time_s: float
    """Training wall time across sessions (a resumed run adds up its sessions)."""
    session_wall_time_s: float
    resumed_from_step: int
    optimizer_steps: int
    epochs: float
    tokens_seen: int
    train_seconds: float
    useful_tokens_per_s: float
    peak_rss_mb: float
    final_dev_loss: float | None
    final_dev_ppl: float | None
    best_dev_loss: float | None
    best_dev_ppl: float | None
    best_checkpoint: str | None
    select: str | None = None
    """``train.select``: which weights ``RUN/model/`` holds, best or last (None: before it)."""
    selected_checkpoint: str | None = None
    selected_dev_loss: float | None = None
    parameters: int
    non_embedding_parameters: int
    train_flops_per_token: int
    packing: str
    seq_len: int
    padding_share: float
    train_examples: int
    train_tokens_per_epoch: int
    dev_examples: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    batch_size: int
    grad_accum: int
    world_size: int
    precision: str
    device: str
    hardware: str | None = None
    torch_threads: int

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path | str = "summary") -> TrainSummary:
        """From the JSON object; a missing figure is one line naming the file and the key."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data and n not in _OPTIONAL]
        if missing:
            raise BabylmError(f"{source}: no {missing[0]!r} (not a babylm train summary)")
        return cls(**{n: data[n] for n in names if n in data})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in file order (unset optional fields left out)."""
        data = dataclasses.asdict(self)
        unset = {"hardware"} if self.hardware is None else set()
        if self.select is None:
            unset |= {"select", "selected_checkpoint", "selected_dev_loss"}
        return {k: v for k, v in data.items() if k not in unset}

    @property
    def exported(self) -> tuple[str, str, float | None]:
        """(checkpoint, how it was chosen: best or last, its dev loss) of ``RUN/model/``."""
        if self.select is None:  # before train.select: model/ is the best checkpoint
            return str(self.best_checkpoint), "best", self.best_dev_loss
        return str(self.selected_checkpoint), self.select, self.selected_dev_loss

    @property
    def exported_dev_ppl(self) -> float | None:
        """Dev perplexity of the weights in ``RUN/model/``."""
        if self.select is None:
            return self.best_dev_ppl
        loss = self.selected_dev_loss
        return math.exp(loss) if loss is not None else None


def read_summary(path: Path) -> TrainSummary | None:
    """The summary at ``path`` (None when the run is not trained yet)."""
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise BabylmError(f"{path}: expected a JSON object")
    return TrainSummary.from_dict(data, path)


def write_summary(path: Path, summary: TrainSummary) -> None:
    write_json(path, summary.to_dict())

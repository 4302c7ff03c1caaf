"""What a run folder holds and what its files say: the one place every reader asks.

A run folder (``runs/<name>/``) has ``config.yaml``, one folder per stage and, once trained,
``model/`` (a Hugging Face folder). Commands that take "a run folder or a model folder" resolve
it here; the train summary is read here, once, with the fallbacks for runs made before
``train.select`` existed (their summaries name only the best checkpoint).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from babylm.config import Config, load_config
from babylm.errors import BabylmError

CONFIG = "config.yaml"
MODEL = "model"
SUMMARY = Path("train") / "summary.json"
SUITE_EVAL_DIRS = ("eval", "eval-babylm")


def model_folder(target: Path) -> Path:
    """A run folder's ``model/``, or the Hugging Face model folder itself."""
    folder = target / MODEL if (target / MODEL / "config.json").is_file() else target
    if not (folder / "config.json").is_file():
        raise BabylmError(f"{target}: neither a run folder nor a Hugging Face model folder")
    return folder


def run_of(target: Path) -> Path | None:
    """The run folder ``target`` is, or None for a bare model folder."""
    return target if model_folder(target) != target else None


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds a run's resolved ``config.yaml``."""
    return (path / CONFIG).is_file()


def read_config(run_dir: Path) -> Config:
    """The run's resolved config (keys added since the run take today's defaults)."""
    if not is_run_folder(run_dir):
        raise BabylmError(f"{run_dir}: not a run folder (no config.yaml)")
    return load_config(str(run_dir / CONFIG))


def read_summary(run_dir: Path) -> dict[str, Any]:
    """``train/summary.json`` (empty for a run not trained yet)."""
    path = run_dir / SUMMARY
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BabylmError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def exported_checkpoint(summary: dict[str, Any]) -> tuple[str, str, float | None]:
    """(checkpoint, how it was chosen: best or last, its dev loss) of the weights in model/."""
    select = summary.get("select", "best")
    name = summary.get("selected_checkpoint", summary.get("best_checkpoint"))
    if "selected_dev_loss" in summary:
        loss = summary["selected_dev_loss"]
    else:
        loss = summary.get("best_dev_loss") if select == "best" else None
    return str(name), select, loss


def exported_dev_ppl(summary: dict[str, Any]) -> float | None:
    """Dev perplexity of the weights in ``RUN/model/`` (``train.select``; older runs: best)."""
    if "selected_dev_loss" not in summary:
        return summary.get("best_dev_ppl")
    loss = summary["selected_dev_loss"]
    return math.exp(loss) if loss is not None else None


def suite_dir(run_dir: Path) -> Path:
    """The run's BabyLM suite folder (``suite.json``, ``<task>/results.json``, predictions).

    The eval stage writes ``RUN/eval/babylm`` when ``eval.tasks`` holds the suite; ``babylm
    eval RUN --tasks babylm`` writes ``RUN/eval-babylm/babylm`` and never touches the stage's
    folder. The first that holds a ``suite.json``; the stage's when neither does.
    """
    found = [run_dir / name / "babylm" for name in SUITE_EVAL_DIRS]
    return next((d for d in found if (d / "suite.json").is_file()), found[0])

"""``babylm finetune``: every task in turn, each written in one rename, a finished task skipped.

A task counts as finished when its ``results.json`` records the fingerprint of what it was
fine-tuned from (the model's weights, the task files, the settings), so a killed run resumes
at the task it was in, and a changed model or setting redoes the task.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

from babylm.config import FinetuneConfig, validate_finetune
from babylm.errors import BabylmError
from babylm.finetune.loop import finetune_task
from babylm.finetune.tasks import TASKS, read_examples, task_files
from babylm.runfolder import (
    FinetuneFolder,
    fingerprint,
    model_finetune_folder,
    model_folder,
    read_json,
    run_of,
    sha256_file,
    staged_output,
    writer_lock,
)


def task_fingerprint(
    weights: dict[str, str], task: str, files: tuple[Path, Path], ft: FinetuneConfig
) -> str:
    """What a task's results depend on: the model's weights (their hashes), the task's two
    files and the settings."""
    data = {p.name: sha256_file(p) for p in files}
    settings = dataclasses.asdict(dataclasses.replace(ft, tasks=[task]))
    return fingerprint("finetune", settings, weights | data)


def finetune(
    target: Path, ft: FinetuneConfig, data_dir: Path, out: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Fine-tune the model of ``target`` (a run folder or a model folder) on ``ft.tasks`` from
    the official ``full_eval`` folder ``data_dir``; results go to RUN/finetune/ (a model
    folder: runs/finetune-<name>/) or ``out``. Returns each task's results."""
    validate_finetune(ft)
    if not data_dir.is_dir():
        raise BabylmError(f"--eval-data: {data_dir}: no such folder")
    model_dir, run = model_folder(target), run_of(target)
    files = {task: task_files(data_dir, task) for task in ft.tasks}
    for task, (train, valid) in files.items():  # every file checked before any training
        read_examples(train, TASKS[task], "train")
        read_examples(valid, TASKS[task], "valid")
    folder = (
        FinetuneFolder(out) if out else run.finetune if run else model_finetune_folder(model_dir)
    )
    weights = {p.name: sha256_file(p) for p in sorted(model_dir.glob("*.safetensors"))}
    results: dict[str, dict[str, Any]] = {}
    with writer_lock(run.root) if run else contextlib.nullcontext():
        for task in ft.tasks:
            where = folder.task(task)
            fp = task_fingerprint(weights, task, files[task], ft)
            if where.results.is_file() and read_json(where.results).get("fingerprint") == fp:
                results[task] = read_json(where.results)
                print(f"{task}: up to date, skipped -> {where.root}", flush=True)
                continue
            with staged_output(where.root) as tmp:
                res = finetune_task(
                    model_dir, task, *files[task], tmp, ft, extra={"fingerprint": fp}
                )
            results[task] = {k: v for k, v in res.items() if k != "predictions"}
            print(f"{task}: {_figures(results[task])} -> {where.root}", flush=True)
    return results


def _figures(res: dict[str, Any]) -> str:
    names = [m for m in ("accuracy", "f1", "mcc") if m in res]
    shown = ", ".join(f"{m} {res[m]:.4f}" for m in names)
    return f"{shown} (best epoch {res['best_epoch']} of {res['epochs']}, {res['pooling']} pooling)"

"""The challenge's side of the suite: fast evals on the word checkpoints and the submission file.

``evaluate_checkpoints`` scores the fast suite on each ``chck_<n>M`` of a run (the official
fast files are not distributed with the full data, so the fast sets are our deterministic
stratified samples of the official sizes: ``suite_tasks.fast_subset``). ``build_submission``
writes what the official ``collate_preds.py`` writes from the same predictions: the full
suite's predictions by task, the (Super)GLUE predictions of ``babylm finetune`` and, per fast
task, its figures at every checkpoint of the track's schedule, and the AoA surprisals of the
track's checkpoints (``babylm eval RUN --tasks aoa``: ``aoa.submission_aoa``) where the
official collation puts them, after the full suite and before (Super)GLUE.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from babylm.config import EvalConfig, validate_eval
from babylm.errors import BabylmError
from babylm.evaluation.aoa import submission_aoa
from babylm.evaluation.suite_tasks import Item, ReadingData
from babylm.runfolder import (
    CheckpointEvals,
    EvalFolder,
    FinetuneFolder,
    RunFolder,
    atomic_write_text,
    read_json,
    run_of,
    staged_output,
    writer_lock,
)

TRACKS = ("strict-small", "strict")
SUBMISSION_KEYS = {
    "blimp_filtered": "blimp",
    "supplement_filtered": "blimp_supplement",
    "ewok": "ewok",
    "entity_tracking": "entity_tracking",
    "wug_adj": "wug_adj",
    "wug_past": "wug_past",
    "comps": "comps",
    "reading": "reading",
}
FAST_TASKS = ("blimp_filtered", "supplement_filtered", "ewok", "entity_tracking", "wug_adj",
              "wug_past", "reading")  # fmt: skip
GLUE_ORDER = ("boolq", "mnli", "mrpc", "multirc", "qqp", "rte", "wsc")
"""The order in which the official collation gathers the fine-tuning predictions."""


def track_revisions(track: str) -> list[str]:
    """The checkpoints a track's submission lists, in order (the official schedule)."""
    if track not in TRACKS:
        raise BabylmError(f"--track: {track!r} is not one of {', '.join(TRACKS)}")
    small = [f"chck_{i}M" for i in range(1, 10)] + [f"chck_{i * 10}M" for i in range(1, 11)]
    if track == "strict-small":
        return small
    return small[:-1] + [f"chck_{i * 100}M" for i in range(1, 11)]


def _target(item: Item) -> str:
    return item.completions[0].strip()


def fast_figures(task: str, preds: dict[str, Any], source: Any) -> dict[str, Any]:
    """One task's figures at one checkpoint, as the official collation computes them from the
    predictions: per UID the share of predictions equal to the right completion (stripped);
    wug, Spearman's rho per UID; reading, the R^2 gains as fractions (``spr``, ``rt``)."""
    from scipy.stats import spearmanr

    if task == "reading":
        from babylm.evaluation.suite import reading_results

        rows = preds["reading"]["predictions"]
        result = reading_results(source, [r["pred"] for r in rows], [r["prev_pred"] for r in rows])
        return {"spr": result["self_paced_reading"] / 100, "rt": result["eye_tracking"] / 100}
    by_uid: dict[str, list[Item]] = {}
    for item in source:
        by_uid.setdefault(item.uid, []).append(item)
    out = {}
    for uid, rows in preds.items():
        items, got = by_uid[uid], rows["predictions"]
        if task in ("wug_adj", "wug_past"):
            out[uid] = float(spearmanr([r["prob"] for r in got], [i.ratio for i in items])[0])
        else:
            right = sum(r["pred"].strip() == _target(i) for r, i in zip(got, items, strict=False))
            out[uid] = right / min(len(got), len(items))
    return out


def evaluate_checkpoints(
    run: RunFolder, ev: EvalConfig, out: CheckpointEvals, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Score the fast suite on every word checkpoint of ``run`` into ``out``, one eval
    folder per checkpoint; write ``out.fast`` (each checkpoint's words seen and headline
    figures) and its plot; return the ``fast.json`` content."""
    from babylm.evaluation.run import evaluate_suite
    from babylm.evaluation.suite_tasks import absent_tasks, select_suite
    from babylm.report import plot_word_curves
    from babylm.runfolder import write_json
    from babylm.word_checkpoints import list_word_checkpoints

    found = list_word_checkpoints(run)
    if not found:
        raise BabylmError(
            f"{run.root}: no word checkpoints ({run.word_checkpoints}/chck_<n>M); train with"
            " train.word_checkpoints=true"
        )
    index_path = run.word_checkpoint_index
    index = read_json(index_path) if index_path.is_file() else {}
    sources = select_suite(ev, fast=True)
    curve: dict[str, Any] = {}
    for _, folder in found:
        target = out.checkpoint(folder.name).root
        results = evaluate_suite(folder, target, sources, ev, extra)
        headlines = {k: v for r in results.values() for k, v in r["headlines"].items()}
        curve[folder.name] = {**index.get(folder.name, {}), "headlines": headlines}
    summary = {
        "data_dir": ev.data_dir,
        "missing": absent_tasks(ev.tasks, Path(ev.data_dir) if ev.data_dir else None),
        "fast_sets": "deterministic stratified samples of the official fast sizes (200 pairs"
        " per BLiMP UID, 50 per supplement task, 100 per EWoK domain, entity tracking's regular"
        " split, wug and reading whole); the official fast files are not distributed",
        "checkpoints": curve,
    }
    write_json(out.fast, summary)
    plot_word_curves({run.root.name: curve}, out.plot)
    return summary


def build_submission(
    eval_dir: EvalFolder,
    checkpoints_dir: CheckpointEvals | None,
    ev: EvalConfig,
    track: str = "strict-small",
    allow_missing: bool = False,
    finetune: FinetuneFolder | None = None,
    aoa: EvalFolder | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The submission content and what is missing from it.

    ``eval_dir``'s suite predictions give the full suite; ``finetune`` (``babylm finetune``)
    the (Super)GLUE predictions; ``checkpoints_dir`` (``babylm eval RUN --checkpoints``) the
    fast figures; ``aoa`` (default ``eval_dir``) the AoA surprisals. A missing task or
    checkpoint is an error naming it, unless ``allow_missing``: then a task is left out and
    listed (the AoA rows there are kept), and a missing checkpoint's (or
    task's) place in the fast lists is ``null``, so every list keeps one entry per checkpoint
    of the track, in order, and a later value never moves to an earlier checkpoint's place."""
    from babylm.evaluation.suite_tasks import select_suite

    missing: list[str] = []
    content: dict[str, Any] = {}
    absent = _absent(eval_dir)
    for task, key in SUBMISSION_KEYS.items():
        path = eval_dir.suite_predictions(task)
        if path.is_file():
            content[key] = read_json(path)
        else:
            missing.append(f"{task} ({absent.get(task, path)})")
    revisions = track_revisions(track)
    aoa_entry, aoa_missing = submission_aoa((aoa or eval_dir).aoa_surprisal, revisions)
    missing += aoa_missing
    if aoa_entry is not None:
        content["aoa"] = aoa_entry
    glue: dict[str, Any] = {}
    for task in GLUE_ORDER:
        path = finetune.task(task).predictions if finetune else None
        if path is not None and path.is_file():
            glue |= read_json(path)
        else:
            missing.append(f"glue {task} ({path or 'babylm finetune'})")
    if glue:
        content["glue"] = glue
    fast: dict[str, list[Any]] = {SUBMISSION_KEYS[t]: [None] * len(revisions) for t in FAST_TASKS}
    sources: dict[str, list[Item] | ReadingData] = {}
    for i, revision in enumerate(revisions):
        folder = checkpoints_dir.checkpoint(revision) if checkpoints_dir else None
        if folder is None or not folder.root.is_dir():
            missing.append(f"checkpoint {revision} (null at fast_eval_results[*][{i}])")
            continue
        absent = _absent(folder)
        for task in FAST_TASKS:
            key, path = SUBMISSION_KEYS[task], folder.suite_predictions(task)
            if not path.is_file():
                why = absent.get(task, path)
                missing.append(f"{revision}/{task} (null at fast_eval_results.{key}[{i}]; {why})")
                continue
            if task not in sources:
                sources |= select_suite(_only(ev, task), fast=True)
            fast[key][i] = fast_figures(task, read_json(path), sources[task])
    if missing and not allow_missing:
        shown = ", ".join(missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        raise BabylmError(
            f"submission ({track}): missing {shown}; score them (babylm eval RUN --tasks babylm"
            " --eval-data DIR, babylm eval RUN --tasks aoa --eval-data DIR, babylm finetune RUN"
            " --eval-data DIR, and babylm eval RUN --checkpoints for the fast evals), or pass"
            " --allow-missing"
        )
    content["fast_eval_results"] = fast
    return content, missing


def _absent(folder: EvalFolder) -> dict[str, str]:
    """The suite tasks an evaluation recorded as not scored, with why (``suite.json``)."""
    path = folder.suite_summary
    return read_json(path).get("missing", {}) if path.is_file() else {}


def _only(ev: EvalConfig, task: str) -> EvalConfig:
    import dataclasses

    return dataclasses.replace(ev, tasks=[task])


def evaluate_run_checkpoints(target: Path, ev: EvalConfig, out: Path | None = None) -> Path:
    """``babylm eval RUN --checkpoints``: the fast suite on every word checkpoint, written to
    ``out`` (default RUN/eval-checkpoints/) in one rename."""
    from babylm.evaluation.results import run_extra
    from babylm.evaluation.run import print_absent

    validate_eval(ev)
    run = run_of(target)
    if run is None or not run.is_run():
        raise BabylmError(f"{target}: --checkpoints needs a run folder (runs/<name>)")
    out = out or run.checkpoint_evals.root
    with writer_lock(run.root), staged_output(out) as tmp:
        summary = evaluate_checkpoints(run, ev, CheckpointEvals(tmp), run_extra(run))
    for name, entry in summary["checkpoints"].items():
        figures = ", ".join(f"{k} {v:.2f}" for k, v in entry["headlines"].items())
        print(f"{name}: {figures}")
    print_absent(ev)
    print(f"fast evals -> {out} (fast.json, fast_curve.png)")
    return out


def write_submission(
    run_dir: Path,
    track: str,
    out: Path | None,
    eval_dir: Path | None = None,
    checkpoints_dir: Path | None = None,
    data_dir: Path | None = None,
    allow_missing: bool = False,
) -> Path:
    """``babylm submission RUN``: the official collation of the run's suite predictions."""
    run = RunFolder(run_dir)
    evals = EvalFolder(eval_dir) if eval_dir is not None else run.suite_eval
    checkpoints = CheckpointEvals(checkpoints_dir) if checkpoints_dir else run.checkpoint_evals
    if data_dir is None and checkpoints.fast.is_file():
        recorded = read_json(checkpoints.fast).get("data_dir")
        data_dir = Path(recorded) if recorded else None
    ev = EvalConfig(tasks=["babylm"], data_dir=str(data_dir) if data_dir else None)
    aoa = EvalFolder(eval_dir) if eval_dir is not None else run.aoa_eval
    content, missing = build_submission(
        evals, checkpoints, ev, track, allow_missing, finetune=run.finetune, aoa=aoa
    )
    out = out or run.submission(track)
    atomic_write_text(out, json.dumps(content))
    for name in missing:
        print(f"submission: left out (--allow-missing): {name}", file=sys.stderr)
    print(f"submission ({track}) -> {out}")
    return out

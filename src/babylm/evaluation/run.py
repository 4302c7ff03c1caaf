"""Score a model on task sets (``score_pairs``) and write the results (``write_results``).

A pair is correct when log P(good) > log P(bad); a tie counts as half (standard protocol) or
as wrong (reference protocol). Scoring writes nothing, so scripts (learning curves) call it
without a throwaway folder; ``evaluate`` is selection, scoring and writing together, the one
path that the eval stage and ``babylm eval`` share.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm.config import AOA_TASK, EvalConfig, validate_eval
from babylm.errors import BabylmError
from babylm.evaluation.aggregate import aggregate, pair_credit
from babylm.evaluation.tasks import Pair
from babylm.model import load_model, load_tokenizer
from babylm.runfolder import (
    EvalFolder,
    RunFolder,
    atomic_write_bytes,
    evaluation_label,
    model_eval_folder,
    model_folder,
    run_of,
    staged_output,
    write_json,
    writer_lock,
)


def write_pairs(path: Path, pairs: list[Pair], good: list[float], bad: list[float]) -> None:
    """Per-pair log-probabilities, so two runs can be compared pair by pair."""
    lines = (
        json.dumps(
            {
                "task": p.task,
                "paradigm": p.paradigm,
                "pair_id": p.pair_id,
                "good": round(g, 6),
                "bad": round(b, 6),
            }
        )
        for p, g, b in zip(pairs, good, bad, strict=True)
    )
    atomic_write_bytes(path, gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))


@dataclass
class Scored:
    """What scoring a model produced: results by task, and every pair with its two scores."""

    results: dict[str, dict[str, Any]]
    pairs: list[Pair]
    good: list[float]
    bad: list[float]


def score_pairs(
    model_dir: Path,
    task_pairs: dict[str, list[Pair]],
    ev: EvalConfig | None = None,
    extra: dict[str, Any] | None = None,
) -> Scored:
    """Score every task's pairs with the model in ``model_dir``; nothing is written.

    Causal LMs use ``ev.protocol`` and ``ev.scorer`` (``tree`` computes each shared prefix
    once, ``plain`` runs whole sentences; same scores up to float rounding); masked LMs are
    scored by pseudo-log-likelihood (``ev.mlm_variant``). Ties count half.
    """
    from babylm.evaluation.scoring import (
        encode_for_scoring,
        score_masked,
        score_sequences,
        score_tree,
    )

    ev = ev or EvalConfig()
    protocol = ev.protocol
    model, kind = load_model(model_dir)
    tok = load_tokenizer(model_dir)
    everything = [p for pairs in task_pairs.values() for p in pairs]
    if kind == "masked":
        protocol = f"pll-{ev.mlm_variant}"
        space = " " if ev.leading_space else ""
        texts = [space + t for p in everything for t in (p.good, p.bad)]
        scores = score_masked(model, tok, texts, ev.mlm_variant, ev.batch_size)
    else:
        texts = [t for p in everything for t in (p.good, p.bad)]
        seqs = encode_for_scoring(tok, texts, protocol, ev.leading_space)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        if ev.scorer == "tree":
            scores = score_tree(model, seqs, ev.tokens_per_batch, pad_id=pad)
        else:
            scores = score_sequences(model, seqs, ev.batch_size, pad)
    good, bad = scores[0::2], scores[1::2]
    results, start = {}, 0
    for task, pairs in task_pairs.items():
        g, b = good[start : start + len(pairs)], bad[start : start + len(pairs)]
        start += len(pairs)
        credit = [pair_credit(x, y, protocol) for x, y in zip(g, b, strict=True)]
        results[task] = aggregate(pairs, credit, protocol) | {
            "leading_space": ev.leading_space,
            "model": str(model_dir),
            **(extra or {}),
        }
    return Scored(results, everything, good, bad)


def write_results(out_dir: Path, scored: Scored) -> None:
    """``<task>.json`` for each task and ``pairs.jsonl.gz`` (every pair's two scores)."""
    folder = EvalFolder(out_dir)
    for task, result in scored.results.items():
        write_json(folder.result(task), result)
    write_pairs(folder.pairs, scored.pairs, scored.good, scored.bad)


def suite_model(model_dir: Path, backend: str) -> tuple[Any, Any, str]:
    """The model, its tokenizer and the official backend it is scored with: ``auto`` is
    causal for a causal LM and mlm for a masked one; mlm needs a masked LM, causal a causal
    one, mntp a mask token (a masked LM, or a hybrid run's causal LM)."""
    if backend == "causal":
        model, kind = load_model(model_dir, kind="causal", needed_for="--backend causal")
    elif backend == "mlm":
        model, kind = load_model(model_dir, kind="masked", needed_for="--backend mlm")
    else:
        model, kind = load_model(model_dir)
    tok = load_tokenizer(model_dir)
    if backend == "auto":
        backend = "mlm" if kind == "masked" else "causal"
    if backend in ("mlm", "mntp") and tok.mask_token_id is None:
        raise BabylmError(f"{model_dir}: --backend {backend} needs a tokenizer with a mask token")
    return model, tok, backend


def evaluate_suite(
    model_dir: Path,
    out_dir: Path,
    sources: dict[str, Any],
    ev: EvalConfig | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score the BabyLM suite tasks of ``sources`` (``suite_tasks.select_suite``) under the
    official protocol; write ``out_dir/babylm/<task>/{results,predictions}.json`` and
    ``out_dir/babylm/suite.json`` (every task's headline figures, and the tasks ``babylm``
    stands for that the data could not give, with why); return the results."""
    from babylm.evaluation.suite import TIE_RULE, run_task, write_task
    from babylm.evaluation.suite_tasks import absent_tasks

    ev = ev or EvalConfig()
    model, tok, backend = suite_model(model_dir, ev.backend)
    results: dict[str, dict[str, Any]] = {}
    for task, source in sources.items():
        result, preds = run_task(task, model, tok, ev, source, backend)
        result = {"task": task, "protocol": "babylm", "backend": backend, **result}
        result["model"] = str(model_dir)
        if task not in ("wug_adj", "wug_past", "reading"):
            result["tie_rule"] = TIE_RULE
        results[task] = result | (extra or {})
        write_task(out_dir, task, results[task], preds)
    headlines = {k: v for r in results.values() for k, v in r["headlines"].items()}
    missing = absent_tasks(ev.tasks, Path(ev.data_dir) if ev.data_dir else None)
    summary = {"headlines": headlines, "tasks": list(results), "missing": missing}
    write_json(EvalFolder(out_dir).suite_summary, summary)
    return results


def print_absent(ev: EvalConfig) -> None:
    """One line naming the suite tasks ``babylm`` stands for that were not scored, and why."""
    from babylm.evaluation.suite_tasks import absent_tasks

    missing = absent_tasks(ev.tasks, Path(ev.data_dir) if ev.data_dir else None)
    if missing:
        why = f"no such folder in {ev.data_dir}" if ev.data_dir else next(iter(missing.values()))
        print(f"BabyLM suite: not scored, listed as missing: {', '.join(missing)} ({why})")


def evaluate(
    ev: EvalConfig,
    model_dir: Path,
    out: Path,
    extra: dict[str, Any] | None = None,
    run: RunFolder | None = None,
) -> dict[str, dict[str, Any]]:
    """The one evaluation path, for the eval stage and ``babylm eval`` alike: the tasks ``ev``
    selects (checked once, by ``config.validate_eval``), scored with the model in
    ``model_dir`` and written into the eval folder ``out``; returns the results by task.
    AoA scores ``run``'s word checkpoints too (``evaluation.aoa``). Every input is read and
    checked before anything is scored."""
    from babylm.evaluation.aoa import evaluate_aoa, select_aoa
    from babylm.evaluation.suite_tasks import select_suite
    from babylm.evaluation.tasks import select_pairs

    task_pairs, suite, aoa = select_pairs(ev), select_suite(ev), select_aoa(ev, run)
    results: dict[str, dict[str, Any]] = {}
    if task_pairs:
        scored = score_pairs(model_dir, task_pairs, ev, extra)
        write_results(out, scored)
        results |= scored.results
    if suite:
        results |= evaluate_suite(model_dir, out, suite, ev, extra)
        print_absent(ev)
    if aoa is not None:
        results[AOA_TASK] = evaluate_aoa(aoa, model_dir, out, ev, extra)
    return results


def evaluate_target(
    target: Path,
    ev: EvalConfig | None,
    out: Path | None = None,
    report: Callable[[Any], None] | None = None,
) -> Path:
    """``babylm eval``: a run's eval stage, or any other selection written beside it.

    ``ev`` None (no selection given) on a run folder is the run's eval stage, whatever its
    tasks: RUN/eval/ with its manifest, skipped when up to date; so is a selection equal to
    the run's ``eval`` settings (batch sizes aside). Any other selection goes to ``out`` or
    RUN/eval-<label>/ (a model folder: runs/eval-<name>/), so a quick look never replaces the
    results that the card and the report are built from. Returns the folder.
    """
    from babylm.evaluation.results import print_results, read_results, run_extra
    from babylm.pipeline import run_eval  # the eval stage (pipeline imports this module lazily)

    model_dir, run = model_folder(target), run_of(target)
    cfg = run.read_config() if run is not None and run.is_run() else None
    if ev is None:
        ev = cfg.eval if cfg is not None else EvalConfig()
    validate_eval(ev)
    if run is not None and cfg is not None:
        stage = run.eval.root
        same = dataclasses.replace(
            ev, batch_size=cfg.eval.batch_size, tokens_per_batch=cfg.eval.tokens_per_batch
        )
        into_stage = out is None or out.resolve() == stage.resolve()
        if out is not None and into_stage and same != cfg.eval:
            raise BabylmError(
                f"--out {out}: that is the run's eval stage folder, which holds the run's own"
                f" eval.* settings; leave out --out to write to {run.root}/eval-<selection>/"
            )
        if same == cfg.eval and into_stage:
            with writer_lock(run.root):
                result = run_eval(cfg, run.root)
            if report is not None:
                report(result)
            if result.status == "skipped":
                print_results(read_results(run.eval, cfg.eval))
            print(f"results -> {stage} (the run's eval stage)")
            return stage
    label = evaluation_label(ev)
    if run is None and AOA_TASK in ev.tasks:  # before any folder is made for the results
        from babylm.evaluation.aoa import select_aoa

        select_aoa(ev, run)
    if out is None:
        out = (run.eval_beside(ev) if run else model_eval_folder(target)).root
    lock = writer_lock(run.root) if run else contextlib.nullcontext()
    with lock, staged_output(out) as tmp:
        results = evaluate(ev, model_dir, tmp, run_extra(run), run)
    print(
        f"results -> {out} ({label}; the run's eval stage is untouched)"
        if run and cfg
        else f"results -> {out}"
    )
    print_results(results)
    return out

"""Score a model on task sets (``score_pairs``) and write the results (``write_results``).

A pair is correct when log P(good) > log P(bad); a tie counts as half (standard protocol) or
as wrong (reference protocol). Scoring writes nothing, so scripts (learning curves) call it
without a throwaway folder; ``evaluate_model`` is the two together, the path that the eval stage
and ``babylm eval`` share.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm.config import EvalConfig
from babylm.errors import BabylmError
from babylm.evaluation.aggregate import aggregate, pair_credit
from babylm.evaluation.tasks import Pair
from babylm.rundir import atomic_write_bytes, write_json


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


def save_results(out_dir: Path, name: str, results: dict[str, Any]) -> None:
    write_json(out_dir / f"{name}.json", results)


def load_scoring_model(model_dir: Path) -> tuple[Any, str]:
    """A local model in eval mode and its kind, "causal" or "masked", from its config.

    Safetensors weights only, no remote code, nothing downloaded.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

    if not (model_dir / "config.json").is_file():
        raise BabylmError(f"{model_dir}: no config.json (not a Hugging Face model folder)")
    if not list(model_dir.glob("*.safetensors")):
        raise BabylmError(f"{model_dir}: no *.safetensors weights (only safetensors are loaded)")
    try:
        config = AutoConfig.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BabylmError(
            f"{model_dir}/config.json: not a model config transformers knows ({first})"
        ) from None
    architecture = (config.architectures or [""])[0]
    kind = "masked" if architecture.endswith("ForMaskedLM") else "causal"
    auto = AutoModelForMaskedLM if kind == "masked" else AutoModelForCausalLM
    dtype = "auto" if torch.cuda.is_available() else torch.float32  # half precision is slow on CPU
    model = auto.from_pretrained(str(model_dir), use_safetensors=True, dtype=dtype)
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model.eval(), kind


def load_tokenizer(model_dir: Path) -> Any:
    """The model folder's own tokenizer (local files only); one line if it cannot be read."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BabylmError(f"{model_dir}: cannot load its tokenizer ({first})") from None


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
    model, kind = load_scoring_model(model_dir)
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
    for task, result in scored.results.items():
        save_results(out_dir, task, result)
    write_pairs(out_dir / "pairs.jsonl.gz", scored.pairs, scored.good, scored.bad)


def evaluate_suite(
    model_dir: Path,
    out_dir: Path,
    sources: dict[str, Any],
    ev: EvalConfig | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score the BabyLM suite tasks of ``sources`` (``suite_tasks.select_suite``) under the
    official protocol; write ``out_dir/babylm/<task>/{results,predictions}.json`` and
    ``out_dir/babylm/suite.json`` (every task's headline figures); return the results."""
    from babylm.evaluation.suite import TIE_RULE, run_task, write_task

    ev = ev or EvalConfig()
    model, kind = load_scoring_model(model_dir)
    if kind != "causal":
        raise BabylmError(
            f"{model_dir}: the BabyLM suite is scored with the official causal protocol; this is"
            " a masked LM"
        )
    tok = load_tokenizer(model_dir)
    results: dict[str, dict[str, Any]] = {}
    for task, source in sources.items():
        result, preds = run_task(task, model, tok, ev, source)
        result = {"task": task, "protocol": "babylm", **result, "model": str(model_dir)}
        if task not in ("wug_adj", "wug_past", "reading"):
            result["tie_rule"] = TIE_RULE
        results[task] = result | (extra or {})
        write_task(out_dir, task, results[task], preds)
    headlines = {k: v for r in results.values() for k, v in r["headlines"].items()}
    save_results(out_dir / "babylm", "suite", {"headlines": headlines, "tasks": list(results)})
    return results


def evaluate_model(
    model_dir: Path,
    out_dir: Path,
    task_pairs: dict[str, list[Pair]],
    ev: EvalConfig | None = None,
    extra: dict[str, Any] | None = None,
    suite: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score every task's pairs, and the BabyLM ``suite`` tasks, and write the results into
    ``out_dir``; return them by task."""
    results: dict[str, dict[str, Any]] = {}
    if task_pairs:
        scored = score_pairs(model_dir, task_pairs, ev, extra)
        write_results(out_dir, scored)
        results |= scored.results
    if suite:
        results |= evaluate_suite(model_dir, out_dir, suite, ev, extra)
    return results

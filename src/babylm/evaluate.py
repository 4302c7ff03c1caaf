"""Minimal-pair evaluation: BLiMP, the BLiMP supplement or any folder of ``*.jsonl`` pairs.

A pair is correct when log P(good) > log P(bad); a tie counts as half (standard protocol) or
as wrong (reference protocol). Results are aggregated over pairs (``overall``), over
paradigms (``macro``), and per paradigm, linguistic term and field with 95% Wilson intervals.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm import data
from babylm.config import EVAL_TASKS, EvalConfig
from babylm.errors import BabylmError
from babylm.rundir import atomic_write_bytes, write_json


@dataclass(frozen=True)
class Pair:
    task: str
    paradigm: str
    pair_id: str
    good: str
    bad: str
    field: str = ""
    term: str = ""


def _subset(rows: list[dict[str, Any]], n: int | None, seed: int, key: str) -> list[int]:
    """Indices of a deterministic ``n``-row sample (file order kept), the same every time."""
    if n is None or n >= len(rows):
        return list(range(len(rows)))
    return sorted(random.Random(f"{seed}:{key}").sample(range(len(rows)), n))


def blimp_pairs(
    per_paradigm: int | None = None,
    paradigms: Iterable[str] | None = None,
    terms: Iterable[str] | None = None,
    fields: Iterable[str] | None = None,
    seed: int = 0,
) -> list[Pair]:
    """The embedded BLiMP pairs, optionally filtered and subsampled per paradigm."""
    known = data.blimp_paradigms()
    wanted = list(paradigms) if paradigms else known
    for name in wanted:
        if name not in known:
            raise BabylmError(f"--paradigms: unknown paradigm {name!r}")
    pairs = []
    for name in wanted:
        rows = data.load_blimp(name)
        if terms and rows[0]["linguistics_term"] not in terms:
            continue
        if fields and rows[0]["field"] not in fields:
            continue
        for i in _subset(rows, per_paradigm, seed, name):
            r = rows[i]
            pairs.append(
                Pair(
                    "blimp",
                    name,
                    str(r["pairID"]),
                    r["sentence_good"],
                    r["sentence_bad"],
                    r["field"],
                    r["linguistics_term"],
                )
            )
    if not pairs:
        raise BabylmError("no BLiMP pairs match the --paradigms / --terms / --fields filters")
    return pairs


def supplement_pairs(per_paradigm: int | None = None, seed: int = 0) -> list[Pair]:
    pairs = []
    for task in data.supplement_tasks():
        rows = data.load_supplement(task)
        for i in _subset(rows, per_paradigm, seed, task):
            r = rows[i]
            pairs.append(Pair("supplement", task, str(i), r["sentence_good"], r["sentence_bad"]))
    return pairs


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of a UTF-8 file; a bad byte stops with file, line and byte offset."""
    lines, offset = [], 0
    for number, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        try:
            lines.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise BabylmError(
                f"{path}:{number}: not UTF-8 (byte offset {offset + exc.start} in the file)"
            ) from None
        offset += len(raw) + 1
    return lines


def folder_pairs(folder: Path) -> list[Pair]:
    """Every ``*.jsonl`` file of ``folder`` as a paradigm; a bad line stops with file:line."""
    if not folder.is_dir():
        raise BabylmError(f"{folder}: no such folder of minimal pairs")
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise BabylmError(f"{folder}: no *.jsonl files")
    pairs = []
    for path in files:
        for number, line in _read_lines(path):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                good, bad = row["sentence_good"], row["sentence_bad"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                what = (
                    "invalid JSON"
                    if isinstance(exc, json.JSONDecodeError)
                    else "no sentence_good/sentence_bad"
                )
                raise BabylmError(f"{path}:{number}: {what}") from None
            if not isinstance(good, str) or not isinstance(bad, str):
                raise BabylmError(
                    f"{path}:{number}: sentence_good and sentence_bad must be strings"
                )
            pairs.append(
                Pair(
                    folder.name,
                    path.stem,
                    str(row.get("pairID", number)),
                    good,
                    bad,
                    str(row.get("field", "")),
                    str(row.get("linguistics_term", "")),
                )
            )
    return pairs


def select_pairs(ev: EvalConfig) -> dict[str, list[Pair]]:
    """The pair sets an evaluation scores, by task name: its tasks, then each pairs folder."""
    selected: dict[str, list[Pair]] = {}
    for task in ev.tasks:
        if task == "blimp":
            selected["blimp"] = blimp_pairs(ev.per_paradigm, ev.paradigms, ev.terms, ev.fields)
        elif task == "supplement":
            selected["supplement"] = supplement_pairs(ev.per_paradigm)
        else:
            raise BabylmError(f"eval.tasks: unknown task {task!r} (known: {', '.join(EVAL_TASKS)})")
    for folder in map(Path, ev.pairs_dirs):
        if folder.name in selected:
            raise BabylmError(f"{folder}: a task named {folder.name!r} is already selected")
        selected[folder.name] = folder_pairs(folder)
    if not selected:
        raise BabylmError("nothing to evaluate: give --tasks or --pairs-dir")
    return selected


LM_EVAL_TASK = """\
task: {prefix}{name}
dataset_path: json
dataset_kwargs:
  data_files:
    train: {path}
output_type: multiple_choice
test_split: train
doc_to_text: ""
doc_to_target: 0
doc_to_choice: "{{{{[sentence_good, sentence_bad]}}}}"
target_delimiter: ""
num_fewshot: 0
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def write_lm_eval_tasks(pairs: list[Pair], folder: Path, prefix: str) -> dict[str, list[Pair]]:
    """An lm-eval-harness task folder (``--include_path``) with one task per paradigm that
    scores "" + sentence, i.e. BOS + sentence: our standard protocol. lm-eval's own blimp tasks
    keep the default " " delimiter instead. Returns the pairs of each task, in document order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    by_task: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_task.setdefault(f"{prefix}{pair.paradigm}", []).append(pair)
    for task, rows in by_task.items():
        name = task.removeprefix(prefix)
        path = folder / f"{name}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"sentence_good": r.good, "sentence_bad": r.bad}) + "\n" for r in rows
            ),
            encoding="utf-8",
        )
        (folder / f"{name}.yaml").write_text(
            LM_EVAL_TASK.format(prefix=prefix, name=name, path=path), encoding="utf-8"
        )
    return by_task


def pair_credit(good: float, bad: float, protocol: str) -> float:
    """1 if good scores higher, 0 if lower; a tie is 0 under the reference protocol, else 0.5."""
    if good > bad:
        return 1.0
    if good == bad and protocol != "reference":
        return 0.5
    return 0.0


def wilson_interval(k: float, n: int, z: float = 1.96) -> list[float]:
    """95% Wilson score interval for k successes out of n."""
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _group(pairs: list[Pair], credit: list[float], key) -> dict[str, dict[str, Any]]:
    sums: dict[str, list[float]] = defaultdict(list)
    for pair, c in zip(pairs, credit, strict=True):
        name = key(pair)
        if name:
            sums[name].append(c)
    return {
        name: {
            "acc": round(sum(v) / len(v), 4),
            "n": len(v),
            "ci95": wilson_interval(sum(v), len(v)),
        }
        for name, v in sorted(sums.items())
    }


def aggregate(pairs: list[Pair], credit: list[float], protocol: str) -> dict[str, Any]:
    """The results shape of ``eval/*.json``: overall, macro, paradigms, terms, fields."""
    paradigms = _group(pairs, credit, lambda p: p.paradigm)
    first = {}
    for p in pairs:
        first.setdefault(p.paradigm, p)
    for name, entry in paradigms.items():
        entry["field"], entry["term"] = first[name].field, first[name].term
    return {
        "overall": round(sum(credit) / len(credit), 4),
        "macro": round(sum(e["acc"] for e in paradigms.values()) / len(paradigms), 4),
        "n_pairs": len(pairs),
        "protocol": protocol,
        "paradigms": paradigms,
        "terms": _group(pairs, credit, lambda p: p.term),
        "fields": _group(pairs, credit, lambda p: p.field),
    }


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


def format_table(results: dict[str, Any]) -> str:
    """A compact terminal table by field and term, ending with the overall line."""
    rows = [f"{'field / term':<34} {'acc':>6} {'n':>7}"]
    for name, entry in results["fields"].items():
        rows.append(f"{name:<34} {entry['acc']:>6.1%} {entry['n']:>7,}")
    for name, entry in results["terms"].items():
        rows.append(f"  {name:<32} {entry['acc']:>6.1%} {entry['n']:>7,}")
    return "\n".join(rows)


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
    from transformers import AutoTokenizer

    from babylm.scoring import encode_for_scoring, score_masked, score_sequences, score_tree

    ev = ev or EvalConfig()
    protocol = ev.protocol
    model, kind = load_scoring_model(model_dir)
    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BabylmError(f"{model_dir}: cannot load its tokenizer ({first})") from None
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


def evaluate_model(
    model_dir: Path,
    out_dir: Path,
    task_pairs: dict[str, list[Pair]],
    ev: EvalConfig | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score every task's pairs and write the results into ``out_dir``; return them."""
    scored = score_pairs(model_dir, task_pairs, ev, extra)
    write_results(out_dir, scored)
    return scored.results

"""The minimal-pair task sets: BLiMP and its supplement (embedded), and user folders of pairs.

A task is a list of :class:`Pair`; ``select_pairs`` turns an ``EvalConfig`` into the tasks it
names, with deterministic stratified subsets. New task types (a completion after a context, a
choice among several completions, ratings, per-word surprisal) get modules beside this one.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm import data
from babylm.config import EvalConfig
from babylm.errors import BabylmError


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


def decode_lines(raw: bytes, where: str) -> list[tuple[int, str]]:
    """(line number, text) of UTF-8 bytes; a bad byte stops with where:line and byte offset."""
    lines, offset = [], 0
    for number, line in enumerate(raw.split(b"\n"), 1):
        try:
            lines.append((number, line.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise BabylmError(
                f"{where}:{number}: not UTF-8 (byte offset {offset + exc.start} in the file)"
            ) from None
        offset += len(line) + 1
    return lines


def jsonl_objects(raw: bytes, where: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSONL file's bytes, blank lines skipped; a bad byte or line
    stops with ``where``:line."""
    rows = []
    for number, text in decode_lines(raw, where):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            raise BabylmError(f"{where}:{number}: invalid JSON") from None
        if not isinstance(obj, dict):
            raise BabylmError(f"{where}:{number}: expected a JSON object")
        rows.append((number, obj))
    return rows


def _read_lines(path: Path) -> list[tuple[int, str]]:
    return decode_lines(path.read_bytes(), str(path))


def folder_pairs(folder: Path) -> list[Pair]:
    """Every ``*.jsonl`` file of ``folder`` as a paradigm; a bad line stops with file:line.

    ``config.validate_eval`` has checked that the folder holds some."""
    files = sorted(folder.glob("*.jsonl"))
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
    """The pair sets an evaluation scores, by task name: its tasks, then each pairs folder.

    ``ev`` is checked by ``config.validate_eval``. The BabyLM suite's tasks are selected by
    ``suite_tasks.select_suite``, not here."""
    selected: dict[str, list[Pair]] = {}
    for task in ev.tasks:  # in the order given: results and pairs.jsonl.gz keep it
        if task == "blimp":
            selected[task] = blimp_pairs(ev.per_paradigm, ev.paradigms, ev.terms, ev.fields)
        elif task == "supplement":
            selected[task] = supplement_pairs(ev.per_paradigm)
    for folder in map(Path, ev.pairs_dirs):
        selected[folder.name] = folder_pairs(folder)
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

"""The BabyLM 2025 zero-shot tasks, read as the official pipeline reads them.

Each task is a folder of the official ``evaluation_data/full_eval`` layout. Its items are
candidate lists: the model picks the candidate whose completion (the part after the shared
context) has the highest log-probability, and candidate 0 is always the right one. The
metadata keys of an item are the ones the official results are broken down by, with the same
spellings, so per-UID figures and prediction ids line up with the official files.

``blimp_filtered`` and ``supplement_filtered`` are embedded; the other tasks are read from the
user's copy of the official folder (``eval.data_dir``): EWoK's authors ask that it is not
re-posted, and the others state no licence.
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babylm import data
from babylm.config import SUITE_TASKS, EvalConfig
from babylm.errors import BabylmError
from babylm.evaluation.tasks import decode_lines, jsonl_objects

FOLDERS = {
    "blimp_filtered": "blimp_filtered",
    "supplement_filtered": "supplement_filtered",
    "ewok": "ewok_filtered",
    "entity_tracking": "entity_tracking",
    "wug_adj": "wug_adj_nominalization",
    "wug_past": "wug_past_tense",
    "comps": "comps",
    "reading": "reading",
}
OFFICIAL_TASK = {
    task: {"blimp_filtered": "blimp", "supplement_filtered": "blimp"}.get(task, task)
    for task in SUITE_TASKS
}
"""The ``--task`` the official pipeline scores each task under (the folder is in ``FOLDERS``)."""
REQUIRED_IN_DATA_DIR = ("ewok", "entity_tracking", "wug_adj", "reading")
"""``--tasks babylm`` with ``--eval-data``: these must be there; COMPS and wug_past if present."""
TEXT_FIELDS = {
    "blimp_filtered": ("sentence_good", "sentence_bad"),
    "supplement_filtered": ("sentence_good", "sentence_bad"),
    "ewok": ("Domain", "ContextType", "ContextDiff", "TargetDiff", "Context1", "Target1",
             "Target2"),
    "entity_tracking": ("input_prefix",),
    "wug_adj": ("sentences",),
    "wug_past": ("sentences",),
    "comps": ("prefix_acceptable", "prefix_unacceptable", "property_phrase"),
}  # fmt: skip
"""The string fields each task's rows must have (the official decoders read them)."""
READING_FILE = "reading/reading_data.csv"
READING_COLUMNS = (
    "item", "word", "prev_item", "prev_word", "Subtlex_log10", "length", "context_length",
    "prev_length", "RTfirstfix", "RTfirstpass", "RTgopast", "RTrightbound",
    "self_paced_reading_time",
)  # fmt: skip
ENTITY_SPLITS = ("regular", "ambiref", "move_contents")
COMPS_SUBSETS = {
    "comps_base": "base",
    "comps_wugs": "wugs",
    "comps_wugs_dist-before": "wugs_dist_before",
}
FAST_PER_UID = {"blimp_filtered": 200, "supplement_filtered": 50, "ewok": 100}
"""The official fast-eval sizes; entity tracking's fast set is its whole ``regular`` split, and
wug and reading are used whole. Our fast sets are deterministic stratified samples of these sizes:
the official fast files are not distributed with the full data."""


@dataclass(frozen=True)
class Item:
    """One choice among candidates; candidate 0 is the right one (the official ``label`` 0)."""

    uid: str
    sentences: tuple[str, ...]
    completions: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    ratio: float | None = None  # wug: the human preference for candidate 0
    raw: dict[str, Any] = field(default_factory=dict, hash=False, compare=False, repr=False)
    """The row as read (to write a subset back in the official format)."""


@dataclass
class ReadingData:
    """The reading-time table (the official CSV, read as the official pipeline reads it)."""

    frame: Any  # pandas.DataFrame
    source: str


def task_source(task: str, data_dir: Path | None) -> Path | None:
    """The folder a task is read from, or None for the embedded copy."""
    if data_dir is not None and (data_dir / FOLDERS[task]).exists():
        return data_dir / FOLDERS[task]
    if task in data.EMBEDDED_SUITE:
        return None
    if data_dir is None:
        raise BabylmError(
            f"{task}: not embedded; give --eval-data DIR (the official evaluation_data/full_eval)"
        )
    raise BabylmError(f"{data_dir / FOLDERS[task]}: no such task folder ({task})")


def resolve_tasks(tasks: list[str], data_dir: Path | None) -> list[str]:
    """The suite tasks an ``eval.tasks`` list names, with ``babylm`` expanded.

    ``babylm`` is every task: the two embedded ones always, the others from ``data_dir`` (a
    missing one of EWoK, entity tracking, wug_adj or reading is an error; COMPS and wug_past
    are taken when the folder has them). Without ``data_dir`` it is the embedded two.
    """
    out: list[str] = []
    for task in tasks:
        if task == "babylm":
            for name in SUITE_TASKS:
                there = data_dir is not None and (data_dir / FOLDERS[name]).exists()
                wanted = (
                    name in data.EMBEDDED_SUITE
                    or (data_dir is not None and name in REQUIRED_IN_DATA_DIR)
                    or there
                )
                if wanted and name not in out:
                    out.append(name)
        elif task in SUITE_TASKS and task not in out:
            out.append(task)
    for task in out:
        task_source(task, data_dir)  # a missing folder stops here, before any scoring
    return out


def absent_tasks(tasks: list[str], data_dir: Path | None) -> dict[str, str]:
    """The suite tasks ``babylm`` stands for that are not scored, each with why: without
    ``data_dir`` the ones not embedded; with it, COMPS and wug_past when it lacks them (the
    organisers publish those two apart from ``full_eval``: missing, never an error)."""
    if "babylm" not in tasks:
        return {}
    scored = set(resolve_tasks(tasks, data_dir))
    out = {}
    for task in SUITE_TASKS:
        if task in scored:
            continue
        if data_dir is None:
            out[task] = "not embedded; give --eval-data DIR (the official full_eval)"
        else:
            out[task] = (
                f"no {data_dir / FOLDERS[task]}: the organisers publish it apart from full_eval"
            )
    return out


def _jsonl_files(task: str, folder: Path | None) -> list[tuple[str, bytes]]:
    if folder is None:
        return sorted(data.embedded_suite_files(task).items())
    if not folder.is_dir():
        raise BabylmError(f"{folder}: not a folder ({task})")
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise BabylmError(f"{folder}: no *.jsonl files ({task})")
    return [(p.name, p.read_bytes()) for p in files]


def _rows(name: str, raw: bytes, where: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSONL file; bad bytes and bad lines stop with file:line."""
    return jsonl_objects(raw, f"{where}/{name}")


def _problem(task: str, row: dict[str, Any]) -> str | None:
    """What makes ``row`` unreadable as a row of ``task`` (a field named), or None."""
    for key in TEXT_FIELDS.get(task, ()):
        if key not in row:
            return f"no {key!r} field"
        if not isinstance(row[key], str):
            return f"{key!r} is not a string"
    if task in ("wug_adj", "wug_past"):
        if "ratio" not in row:
            return "no 'ratio' field"
        ratio = row["ratio"]
        try:  # the official decoder's float(): "0.5" is read too
            number = float(ratio) if not isinstance(ratio, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            return f"'ratio' {ratio!r} is not a number"
        if len(row["sentences"].split("\t")) < 2:
            return "'sentences' holds fewer than two tab-separated sentences"
    if task == "entity_tracking":
        options = row.get("options")
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            return "'options' is not a list of strings"
        if "numops" not in row:
            return "no 'numops' field"
    return None


def _decode(task: str, stem: str, row: dict[str, Any]) -> Item:
    if task in ("blimp_filtered", "supplement_filtered"):
        good, bad = row["sentence_good"], row["sentence_bad"]
        if "field" in row:
            field_ = "syntax/semantics" if row["field"] == "syntax_semantics" else row["field"]
            meta = {"field": field_, "UID": row["UID"], "linguistics_term": row["linguistics_term"]}
        else:  # the supplement: no field or UID, the file names the task
            meta = {"field": "supplement", "UID": stem, "linguistics_term": "supplement"}
        return Item(meta["UID"], (good, bad), (good, bad), meta)
    if task == "ewok":
        context = row["Context1"]
        targets = (row["Target1"], row["Target2"])
        meta = {
            "UID": row["Domain"],
            "context_type": row["ContextType"],
            "context_contrast": row["ContextDiff"],
            "target_contrast": row["TargetDiff"],
        }
        sentences = tuple(f"{context} {t}" for t in targets)
        return Item(row["Domain"], sentences, tuple(" " + t for t in targets), meta)
    if task in ("wug_adj", "wug_past"):
        sentences = tuple(row["sentences"].split("\t"))
        ratio = float(row["ratio"])
        return Item(task, sentences, sentences, {"ratio": ratio, "UID": task}, ratio)
    if task == "entity_tracking":
        uid = f"{stem}_{row['numops']}_ops"
        prefix, options = row["input_prefix"], row["options"]
        return Item(uid, tuple(prefix + o for o in options), tuple(options), {"UID": uid})
    if task == "comps":
        uid = COMPS_SUBSETS.get(stem, "wugs_dist_in_between")
        phrase = row["property_phrase"]
        sentences = (
            f"{row['prefix_acceptable']} {phrase}",
            f"{row['prefix_unacceptable']} {phrase}",
        )
        return Item(uid, sentences, (phrase, phrase), {"UID": uid})
    raise BabylmError(f"{task}: not a candidate-choice task")


def read_items(task: str, data_dir: Path | None) -> list[Item]:
    """Every item of a candidate-choice task, in file order (files sorted by name)."""
    folder = task_source(task, data_dir)
    where = str(folder) if folder is not None else f"<embedded {task}>"
    items = []
    for name, raw in _jsonl_files(task, folder):
        for number, row in _rows(name, raw, where):
            problem = _problem(task, row)
            if problem is not None:
                raise BabylmError(f"{where}/{name}:{number}: not a {task} row: {problem}")
            try:
                item = dataclasses.replace(_decode(task, name.removesuffix(".jsonl"), row), raw=row)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise BabylmError(
                    f"{where}/{name}:{number}: not a {task} row (missing or bad {exc})"
                ) from None
            if not all(isinstance(s, str) for s in (*item.sentences, *item.completions)):
                raise BabylmError(f"{where}/{name}:{number}: sentences must be strings")
            if len(item.sentences) < 2:
                raise BabylmError(f"{where}/{name}:{number}: fewer than two candidates")
            items.append(item)
    if not items:
        raise BabylmError(f"{where}: no items ({task})")
    return items


def read_reading(data_dir: Path | None) -> ReadingData:
    """The reading CSV as a DataFrame (``item`` kept as text, a missing one read as "None")."""
    import pandas as pd

    folder = task_source("reading", data_dir)
    assert folder is not None  # reading is never embedded
    path = folder / "reading_data.csv"
    if not path.is_file():
        raise BabylmError(f"{path}: no such file (reading)")
    raw = path.read_bytes()
    decode_lines(raw, str(path))  # a bad byte stops with file:line and offset
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype={"item": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise BabylmError(f"{path}: not a CSV table ({str(exc).splitlines()[0]})") from None
    missing = [c for c in READING_COLUMNS if c not in frame.columns]
    if missing:
        raise BabylmError(f"{path}: missing columns {', '.join(missing)}")
    if frame.empty:
        raise BabylmError(f"{path}: no rows")
    frame["item"] = frame["item"].fillna("None")
    for number, word in enumerate(frame["word"], 2):
        if not isinstance(word, str) or not word:
            raise BabylmError(f"{path}:{number}: empty word")
    return ReadingData(frame, str(path))


def fast_subset(task: str, items: list[Item], seed: int = 0) -> list[Item]:
    """The deterministic stratified fast-eval sample of a task (see ``FAST_PER_UID``)."""
    if task == "entity_tracking":
        return [i for i in items if i.uid.startswith("regular_")]
    n = FAST_PER_UID.get(task)
    if n is None:
        return items
    by_uid: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_uid.setdefault(item.uid, []).append(index)
    keep: set[int] = set()
    for uid, indices in by_uid.items():
        chosen = indices if len(indices) <= n else random.Random(f"{seed}:{uid}").sample(indices, n)
        keep.update(chosen)
    return [items[i] for i in sorted(keep)]


def select_suite(ev: EvalConfig, fast: bool = False) -> dict[str, list[Item] | ReadingData]:
    """The suite tasks ``ev`` names, read and checked (nothing is scored or written yet):
    each task's items, or the reading table. ``fast``: the fast-eval samples."""
    data_dir = Path(ev.data_dir) if ev.data_dir else None
    selected: dict[str, list[Item] | ReadingData] = {}
    for task in resolve_tasks(ev.tasks, data_dir):
        if task == "reading":
            selected[task] = read_reading(data_dir)
        else:
            items = read_items(task, data_dir)
            selected[task] = fast_subset(task, items) if fast else items
    return selected

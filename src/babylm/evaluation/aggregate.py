"""From per-pair scores to accuracies: the tie rule, Wilson intervals, and the aggregation over
pairs, paradigms, linguistic terms and fields."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from babylm.evaluation.tasks import Pair
from babylm.tables import percent


def pair_credit(good: float, bad: float, protocol: str) -> float:
    """1 if good scores higher, 0 if lower; a tie is 0 under the reference protocol, 1 under the
    official BabyLM one (its argmax picks the first candidate, the good one), else 0.5."""
    if good > bad:
        return 1.0
    if good == bad:
        return {"reference": 0.0, "babylm": 1.0}.get(protocol, 0.5)
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


def exact_accuracies(
    rows: Iterable[Mapping[str, Any]],
    protocol: str,
    field_of: Mapping[str, str],
    task: str = "blimp",
) -> dict[str, Any]:
    """Overall, macro and per-field accuracy of one task, unrounded, from per-pair rows (as in
    ``pairs.jsonl.gz``: task, paradigm, good, bad); ``field_of`` maps a paradigm to its field.

    :func:`aggregate` rounds each paradigm to 4 decimals and takes the macro over those; here
    the macro is over the exact paradigm accuracies, so a figure printed from it is rounded once.
    """
    credit: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["task"] == task:
            credit[r["paradigm"]].append(pair_credit(r["good"], r["bad"], protocol))
    by_field: dict[str, list[float]] = defaultdict(list)
    for paradigm, values in credit.items():
        by_field[field_of[paradigm]] += values
    every = [c for values in credit.values() for c in values]
    return {
        "overall": sum(every) / len(every),
        "macro": sum(sum(v) / len(v) for v in credit.values()) / len(credit),
        "fields": {k: sum(v) / len(v) for k, v in by_field.items()},
    }


def format_table(results: dict[str, Any]) -> str:
    """A compact terminal table by field and term, ending with the overall line."""
    rows = [f"{'field / term':<34} {'acc':>6} {'n':>7}"]
    for name, entry in results["fields"].items():
        rows.append(f"{name:<34} {percent(entry['acc'], sign=True):>6} {entry['n']:>7,}")
    for name, entry in results["terms"].items():
        rows.append(f"  {name:<32} {percent(entry['acc'], sign=True):>6} {entry['n']:>7,}")
    return "\n".join(rows)

"""Ages of acquisition, fitted as the official BabyLM 2025 scorer fits them, and the figure.

The official scorer (``evaluation_pipeline/utils.py``'s ``AoAEvaluator``, run by
``calculate_results_from_pred.py``) follows Chang & Bergen (2022) with details of its own that
change the number, restated here so that ours is the same number:

* The curve is f(x) = a / (1 + exp(-b (x - c))) + d, fitted by scipy's ``curve_fit`` with at
  most 1,000 evaluations; a fit that raises, a or b <= 0, or a threshold outside (d, a + d)
  gives no age.
* A child's: the share of children producing the word at each age column present (NaN left
  out, at least 3 left), from (1, 0.1, mean age, 0) within a in [0, 2], b in [0, 1],
  c in [first age, last age], d in [-0.5, 0.5] (so trust-region reflective); the age where
  the curve crosses 0.5, kept inside the ages fitted. A word's row is its first in the CSV.
* A model's: every (checkpoint, context) surprisal of the word (at least 3 in all, NaN left
  out), x = log10(words + 1) with the words read from the checkpoint's name (``chck_10M``:
  10,000,000), y the negated surprisal, fitted without bounds (Levenberg-Marquardt) from
  (max y - min y, 1, mean x, min y). The threshold is the surprisal halfway between
  log2(300,000) ("chance", in bits, while the surprisals are in nats: as officially) and the
  lowest surprisal seen; the age is the x where the curve crosses it, kept only when
  10^x - 1 lies between the first and the last checkpoint's words.
* The figure (``curve_fitness``): Pearson's r between the model's and the children's ages
  over the words that have both, in order of first appearance in the surprisals; fewer than
  3 words give 0.0.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from babylm.evaluation.aoa_data import HumanAoa

THRESHOLD = 0.5
CHANCE_VOCABULARY = 300_000
"""The official "approximate vocabulary" whose log2 is chance surprisal."""
_STEP = re.compile(r"(\d+(?:\.\d+)?)\s*([KMB]?)", re.IGNORECASE)
_UNITS = {"K": 1000, "M": 1_000_000, "B": 1_000_000_000}


@dataclass(frozen=True)
class Fit:
    """A fitted curve (a, b, c, d; None when the fit failed) and the age read off it."""

    params: list[float] | None
    age: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"curve": self.params, "aoa": self.age}


NO_FIT = Fit(None, None)


def sigmoid(x: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    """The learning curve both fits use."""
    return a / (1 + np.exp(-b * (x - c))) + d


def checkpoint_words(name: str | float) -> float | None:
    """The words a checkpoint's name stands for, read as the official scorer reads it."""
    if isinstance(name, int | float):
        return float(name)
    match = _STEP.search(str(name))
    if not match:
        return None
    return float(match.group(1)) * _UNITS.get(match.group(2).upper(), 1)


def _fit(x: np.ndarray, y: np.ndarray, p0: list[Any], bounds: Any = None) -> np.ndarray:
    from scipy.optimize import curve_fit

    kwargs: dict[str, Any] = {"p0": p0, "maxfev": 1000}
    if bounds is not None:  # only then: without it curve_fit chooses Levenberg-Marquardt
        kwargs["bounds"] = bounds
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # covariance and overflow warnings change nothing
        popt, _ = curve_fit(sigmoid, x, y, **kwargs)
    return popt


def _crossing(popt: np.ndarray, level: float) -> float | None:
    """The x where the curve reaches ``level``, or None (no rise, or never reached)."""
    a, b, c, d = popt
    if b <= 0 or a <= 0 or level <= d or level >= a + d:
        return None
    with np.errstate(all="ignore"):
        return c - np.log((a / (level - d)) - 1) / b


def child_fit(ages: np.ndarray, shares: np.ndarray) -> Fit:
    """A word's age of acquisition in children (months), from its row of shares."""
    valid = ~np.isnan(shares)
    x, y = ages[valid], shares[valid]
    if len(y) < 3:
        return NO_FIT
    try:
        popt = _fit(x, y, [1.0, 0.1, np.mean(x), 0.0], ([0, 0, x[0], -0.5], [2.0, 1.0, x[-1], 0.5]))
        age = _crossing(popt, THRESHOLD)
    except Exception:  # the official scorer: any failure is no age
        return NO_FIT
    params = [float(p) for p in popt]
    if age is None or age < x[0] or age > x[-1]:
        return Fit(params, None)
    return Fit(params, float(age))


def model_fit(words: np.ndarray, surprisals: np.ndarray) -> Fit:
    """A word's age of acquisition in the model (log10 words), from all its surprisals."""
    if len(surprisals) < 3:
        return NO_FIT
    valid = ~np.isnan(surprisals)
    if not np.any(valid):
        return NO_FIT
    steps, values = words[valid], surprisals[valid]
    chance = np.log2(CHANCE_VOCABULARY)
    level = -(chance - THRESHOLD * (chance - np.min(values)))
    try:
        y, x = -values, np.log10(steps + 1)
        popt = _fit(x, y, [np.max(y) - np.min(y), 1.0, np.mean(x), np.min(y)])
        age = _crossing(popt, level)
        reached = None if age is None else 10**age - 1
    except Exception:  # the official scorer: any failure is no age
        return NO_FIT
    params = [float(p) for p in popt]
    if age is None or reached is None or reached < steps[0] or reached > steps[-1]:
        return Fit(params, None)
    return Fit(params, float(age))


def curve_fitness(rows: list[dict[str, Any]], human: HumanAoa) -> dict[str, Any]:
    """The official figure from the surprisal rows, with every word's two fits.

    Returns ``curve_fitness`` (Pearson's r), ``p_value``, ``n_words`` (words with both
    ages) and ``words``: per word scored, its model fit and, for words in the CSV, its child
    fit (``model``/``child``: ``curve`` a, b, c, d and ``aoa``, None where there is none).
    """
    from scipy.stats import pearsonr

    by_word: dict[str, tuple[list[float], list[float]]] = {}
    for row in rows:
        steps, values = by_word.setdefault(row["target_word"], ([], []))
        step = checkpoint_words(row["step"])
        if step is not None:
            steps.append(step)
            values.append(float(row["surprisal"]))
    frame = human.frame
    ages = np.array([int(a) for a in human.ages])
    shares = frame[list(human.ages)].values
    first_row = {}
    for index, word in enumerate(frame["word"]):
        if isinstance(word, str):
            first_row.setdefault(word, index)
    fits: dict[str, dict[str, Any]] = {}
    model_ages, child_ages = [], []
    for word, (steps, values) in by_word.items():
        model = model_fit(np.array(steps), np.array(values))
        index = first_row.get(word)
        child = child_fit(ages, shares[index]) if index is not None else None
        fits[word] = {"model": model.as_dict(), "child": child.as_dict() if child else None}
        if child is not None and child.age is not None and model.age is not None:
            model_ages.append(model.age)
            child_ages.append(child.age)
    if len(model_ages) < 3:
        r, p = 0.0, None
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: r is NaN, as officially
            result = pearsonr(model_ages, child_ages)
        r, p = float(result[0]), float(result[1])
    return {"curve_fitness": r, "p_value": p, "n_words": len(model_ages), "words": fits}

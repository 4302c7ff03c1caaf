"""Score the BabyLM 2025 zero-shot suite with the official protocol, through our scorers.

The official causal protocol (``babylm``), restated: each candidate sentence is encoded with
the tokenizer's own special tokens; the tokens whose character span ends after the start of
the completion are the completion's tokens (the first token of the sequence is never scored:
it has no context); a candidate's score is the sum of their log-probabilities at temperature 1;
the model's choice is the first candidate with the highest score (a tie goes to candidate 0,
the right one). Reading times use -log P(word | the words before it), a word of several tokens
scored token by token on the re-encoded text, as the official code does.

What is ours is the speed: every score is a span's log-probability, ``log P(ids[a:b] |
ids[:a])``, and the prefix-tree scorer computes each distinct prefix once, and the LM head only
where a span needs it:
the two sentences of a pair share their start, an entity-tracking item is one long context
and five completions, EWoK's targets follow shared contexts, and a reading item's words are
prefixes of one another.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from babylm.config import EvalConfig
from babylm.errors import BabylmError
from babylm.evaluation.aggregate import wilson_interval
from babylm.evaluation.suite_tasks import ENTITY_SPLITS, Item, ReadingData
from babylm.runfolder import EvalFolder, write_json

TIE_RULE = (
    "official: a tie goes to the first candidate (the right one), as the official argmax does;"
    " headline_ties_half counts a tie as 1/k of an item instead"
)
EYE_TRACKING = ("RTfirstfix", "RTfirstpass", "RTgopast", "RTrightbound")
READING_BASE = ("Subtlex_log10", "length", "context_length")
READING_SPILLOVER = (*READING_BASE, "prev_length", "prev_pred")


def completion_runs(
    offsets: Sequence[tuple[int, int]], sentence: str, completion: str
) -> list[tuple[int, int]]:
    """The completion's token positions as ``[start, stop)`` runs (position 0 excluded).

    A token belongs to the completion when its character span ends after the completion's
    first character (special tokens span (0, 0) and so never do), counted from the first
    token's start, as the official code counts it.
    """
    start_char = len(sentence) - len(completion) + (offsets[0][0] if offsets else 0)
    positions = [i for i, (_, end) in enumerate(offsets) if end > start_char and i >= 1]
    runs: list[tuple[int, int]] = []
    for i in positions:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


class SpanScores:
    """Collects the spans whose log-probabilities are wanted, then scores them all at once.

    ``want(ids, a)`` asks for the sum of log P(id_t | ids_<t) for a <= t < len(ids).
    """

    def __init__(self) -> None:
        self._index: dict[tuple[tuple[int, ...], int], int] = {}

    def want(self, ids: Sequence[int], start: int) -> int:
        return self._index.setdefault((tuple(ids), start), len(self._index))

    def run(self, model: Any, ev: EvalConfig, pad_id: int) -> list[float]:
        from babylm.evaluation.scoring import score_sequences, score_tree

        sequences = [list(ids) for ids, _ in self._index]
        starts = [start for _, start in self._index]
        if ev.scorer == "tree":
            return score_tree(model, sequences, ev.tokens_per_batch, pad_id=pad_id, starts=starts)
        return score_sequences(model, sequences, ev.batch_size, pad_id, starts=starts)


def score_items(model: Any, tok: Any, items: list[Item], ev: EvalConfig) -> list[list[float]]:
    """Each item's candidate scores under the official protocol (see the module docstring)."""
    texts = [s for item in items for s in item.sentences]
    enc = tok(texts, return_offsets_mapping=True)
    wanted = SpanScores()
    spans: list[list[int]] = []  # per candidate: its runs' span indices
    flat = iter(zip(enc["input_ids"], enc["offset_mapping"], strict=True))
    for item in items:
        for sentence, completion in zip(item.sentences, item.completions, strict=True):
            ids, offsets = next(flat)
            runs = completion_runs(offsets, sentence, completion)
            spans.append([wanted.want(ids[:b], a) for a, b in runs])
    totals = wanted.run(model, ev, _pad_id(tok))
    scores = [sum(totals[k] for k in runs) for runs in spans]
    out, start = [], 0
    for item in items:
        out.append(scores[start : start + len(item.sentences)])
        start += len(item.sentences)
    return out


def _pad_id(tok: Any) -> int:
    for token_id in (tok.pad_token_id, tok.eos_token_id):
        if token_id is not None:
            return token_id
    return 0


def choose(scores: Sequence[float]) -> int:
    """The official choice: the first candidate with the highest score."""
    best = max(scores)
    return next(i for i, s in enumerate(scores) if s == best)


def tie_credit(scores: Sequence[float]) -> float:
    """Ties-half credit of candidate 0: 1/k when it is one of k candidates tied for best."""
    best = max(scores)
    tied = sum(1 for s in scores if s == best)
    return 1.0 / tied if scores[0] == best else 0.0


def choice_results(task: str, items: list[Item], scores: list[list[float]]) -> dict[str, Any]:
    """Official accuracies (percent) per metadata key and value, and the official headline.

    The headline is the unweighted mean over UIDs; for entity tracking, the mean over its
    splits of the mean over each split's UIDs. Beside each accuracy: the ties-half figure and a
    95% Wilson interval.
    """
    total: dict[str, Counter] = defaultdict(Counter)
    correct: dict[str, Counter] = defaultdict(Counter)
    half: dict[str, Counter] = defaultdict(Counter)
    ties = 0
    for item, s in zip(items, scores, strict=True):
        right = choose(s) == 0
        credit = tie_credit(s)
        ties += sum(1 for x in s if x == max(s)) > 1
        for key, value in item.metadata.items():
            if key == "ratio":
                continue
            total[key][value] += 1
            correct[key][value] += right
            half[key][value] += credit
    by = {
        key: {
            value: {
                "acc": 100.0 * correct[key][value] / n,
                "acc_ties_half": 100.0 * half[key][value] / n,
                "n": n,
                "ci95": [100 * x for x in wilson_interval(correct[key][value], n)],
            }
            for value, n in counts.items()
        }
        for key, counts in total.items()
    }
    uid = by["UID"]
    result: dict[str, Any] = {"n_items": len(items), "ties": ties, "by": by}
    if task == "entity_tracking":
        splits, splits_half = {}, {}
        for split in ENTITY_SPLITS:
            keys = [k for k in uid if k.startswith(split)]
            if keys:
                splits[split] = sum(uid[k]["acc"] for k in keys) / len(keys)
                splits_half[split] = sum(uid[k]["acc_ties_half"] for k in keys) / len(keys)
        result["splits"] = splits
        headline = sum(splits.values()) / len(splits)
        headline_half = sum(splits_half.values()) / len(splits_half)
        result["metric"] = "accuracy: mean over splits of the mean over UIDs"
    else:
        headline = sum(v["acc"] for v in uid.values()) / len(uid)
        headline_half = sum(v["acc_ties_half"] for v in uid.values()) / len(uid)
        result["metric"] = "accuracy: mean over UIDs"
    result["headline"] = headline
    result["headline_ties_half"] = headline_half
    result["headlines"] = {task: headline}
    return result


def wug_results(task: str, items: list[Item], scores: list[list[float]]) -> dict[str, Any]:
    """Spearman's rho between the model's preference for candidate 0 (the softmax of the
    candidates' scores) and the human ratio; the headline is rho x 100, as published."""
    from scipy.stats import spearmanr

    model = [_softmax_first(s) for s in scores]
    human = [item.ratio for item in items]
    rho = float(spearmanr(model, human)[0])
    return {
        "n_items": len(items),
        "rho": rho,
        "headline": 100 * rho,
        "headlines": {task: 100 * rho},
        "metric": "Spearman rho x 100 (model vs human preference)",
    }


def _softmax_first(scores: Sequence[float]) -> float:
    """Candidate 0's softmax probability, in fp32 as the official code computes it: a margin
    of more than about 17 nats rounds to exactly 1.0, and those ties shape the ranks."""
    import torch

    return torch.softmax(torch.tensor(scores, dtype=torch.float32), dim=0)[0].item()


def predictions(task: str, items: list[Item], scores: list[list[float]]) -> dict[str, Any]:
    """The official ``predictions.json``: per UID, ``{"id": "<uid>_<n>", "pred": ...}`` in
    file order; the chosen completion (COMPS: the chosen sentence); wug adds ``prob``."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item, s in zip(items, scores, strict=True):
        chosen = choose(s)
        rows = out[item.uid]
        pred = item.sentences[chosen] if task == "comps" else item.completions[chosen]
        row: dict[str, Any] = {"id": f"{item.uid}_{len(rows)}", "pred": pred}
        if task in ("wug_adj", "wug_past"):
            row["prob"] = _softmax_first(s)
        rows.append(row)
    return {uid: {"predictions": rows} for uid, rows in out.items()}


def reading_steps(tok: Any, sentence: str, word: str) -> list[tuple[str, int]]:
    """(text before, next id) for each token of ``word`` after ``sentence``, as the official
    code asks: the word encoded alone; each later token is the first token of its decoded text
    re-encoded, after the text so far. Every backend asks these questions; only how a model
    is given the text differs (``score_reading``)."""
    target = tok(word, add_special_tokens=False)["input_ids"]
    if not target:
        raise BabylmError(f"reading: the word {word!r} encodes to no tokens")
    steps = [(sentence, target[0])]
    text = sentence + tok.decode(target[0])
    for token in target[1:]:
        piece = tok.decode(token)
        following = tok(piece, add_special_tokens=False)["input_ids"]
        if not following:
            raise BabylmError(f"reading: a token of {word!r} decodes to no text")
        steps.append((text, following[0]))
        text += piece
    return steps


def _causal_step_logprobs(
    model: Any, tok: Any, steps: list[tuple[str, int]], ev: EvalConfig
) -> list[float]:
    """log P(next | the text encoded with its special tokens), one span per step."""
    spans = SpanScores()
    wanted = []
    for text, nxt in steps:
        ids = tok(text)["input_ids"]
        wanted.append(spans.want([*ids, nxt], len(ids)))
    totals = spans.run(model, ev, _pad_id(tok))
    return [totals[k] for k in wanted]


def score_reading(
    model: Any, tok: Any, reading: ReadingData, ev: EvalConfig, backend: str = "causal"
) -> tuple[list[float], list[float]]:
    """Surprisal (-ln P) of each row's word after its item, and of the previous word (NaN
    where the row has none); ``backend`` causal, or mlm / mntp (``suite_masked``)."""
    frame = reading.frame
    index: dict[tuple[str, int], int] = {}  # each distinct step scored once
    queries: list[list[int]] = []  # per query: the index of each of its steps

    def ask(sentence: str, word: str) -> int:
        steps = reading_steps(tok, sentence, word)
        queries.append([index.setdefault(step, len(index)) for step in steps])
        return len(queries) - 1

    slots = []
    for item, word, prev_item, prev_word in zip(
        frame["item"], frame["word"], frame["prev_item"], frame["prev_word"], strict=True
    ):
        prev = ask(prev_item, prev_word) if isinstance(prev_item, str) else None
        slots.append((ask(item, word), prev))
    steps = list(index)
    if backend == "causal":
        logprob = _causal_step_logprobs(model, tok, steps, ev)
    else:
        from babylm.evaluation.suite_masked import reading_logprobs

        logprob = reading_logprobs(model, tok, steps, ev, next_token=backend == "mntp")
    surprisal = [-sum(logprob[k] for k in query) for query in queries]
    pred = [surprisal[s] for s, _ in slots]
    prev_pred = [surprisal[p] if p is not None else float("nan") for _, p in slots]
    return pred, prev_pred


def _formula(target: str, predictors: Sequence[str], extra: str | None = None) -> str:
    terms = [*predictors, *(f"{a}:{b}" for a, b in itertools.combinations(predictors, 2))]
    return f"{target} ~ " + " + ".join([*terms, *([extra] if extra else [])])


def _r2_gain(frame: Any, target: str, predictors: Sequence[str]) -> float:
    """(R^2 with surprisal - R^2 without) / (1 - R^2 without): the share of the variance the
    baseline leaves that surprisal explains, each model fitted on its own complete rows."""
    import statsmodels.formula.api as smf

    base_rows = frame[[target, *predictors]].dropna()
    base = float(smf.ols(_formula(target, predictors), data=base_rows).fit().rsquared)
    rows = frame[[target, *predictors, "pred"]].dropna()
    full = float(smf.ols(_formula(target, predictors, "pred"), data=rows).fit().rsquared)
    return (full - base) / (1 - base)


def reading_results(reading: ReadingData, pred: list[float], prev: list[float]) -> dict[str, Any]:
    """The two official figures, in percent: eye tracking (the mean gain over the four
    eye-tracking measures) and self-paced reading (with the previous word as spillover)."""
    frame = reading.frame.copy()
    frame["pred"], frame["prev_pred"] = pred, prev
    by = {dv: 100 * _r2_gain(frame, dv, READING_BASE) for dv in EYE_TRACKING}
    eye = sum(by.values()) / len(by)
    spr = 100 * _r2_gain(frame, "self_paced_reading_time", READING_SPILLOVER)
    return {
        "n_items": len(frame),
        "by": by,
        "eye_tracking": eye,
        "self_paced_reading": spr,
        "headline": eye,
        "headlines": {"eye_tracking": eye, "self_paced_reading": spr},
        "metric": "R^2 gain from surprisal, percent of the variance the baseline leaves",
    }


def reading_predictions(reading: ReadingData, pred: list[float], prev: list[float]) -> dict:
    rows = [
        {"id": int(index), "pred": p, "prev_pred": q}
        for index, p, q in zip(reading.frame.index, pred, prev, strict=True)
    ]
    return {"reading": {"predictions": rows}}


def write_predictions(path: Path, preds: dict[str, Any]) -> None:
    """Compact JSON as the official code writes it (NaN kept, as ``json.dump`` writes it)."""
    from babylm.runfolder import atomic_write_text

    atomic_write_text(path, json.dumps(preds))


def run_task(
    task: str, model: Any, tok: Any, ev: EvalConfig, source: Any, backend: str = "causal"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One task's (results, predictions); ``source`` is its items or its reading table;
    ``backend`` the official one: causal, or mlm / mntp (``suite_masked``)."""
    if task == "reading":
        pred, prev = score_reading(model, tok, source, ev, backend)
        return reading_results(source, pred, prev), reading_predictions(source, pred, prev)
    if backend == "causal":
        scores = score_items(model, tok, source, ev)
    else:
        from babylm.evaluation.suite_masked import score_items_masked

        scores = score_items_masked(model, tok, source, ev, next_token=backend == "mntp")
    if task in ("wug_adj", "wug_past"):
        results = wug_results(task, source, scores)
    else:
        results = choice_results(task, source, scores)
    return results, predictions(task, source, scores)


def write_task(out_dir: Path, task: str, results: dict, preds: dict) -> None:
    """``<out>/babylm/<task>/results.json`` and ``predictions.json`` (official format)."""
    folder = EvalFolder(out_dir)
    write_json(folder.suite_result(task), results)
    write_predictions(folder.suite_predictions(task), preds)

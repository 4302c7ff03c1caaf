"""Age of acquisition (AoA) over a run's word checkpoints, as the official BabyLM 2025 pipeline
scores it (``evaluation_pipeline/AoA_word``, ``eval_aoa.sh``), and its figure.

The official protocol, restated: for every word checkpoint (``chck_<n>M``, in order), every
word of ``cdi_childes.json`` (``aoa_data``) and each of its contexts, the text is the context
stripped, a space and the word stripped, encoded with the tokenizer's own special tokens; the
word's tokens are those whose character span ends after the word starts (never the first
token of the text: it has no context), and the surprisal is minus the sum of their
log-probabilities, in nats. ``mlm`` and ``mntp`` mask each of the word's tokens in turn
(``suite_masked``); a word with no token to score is NaN there, as officially. The rows are
written as the official ``surprisal.json`` (``step``, ``word_count``, ``target_word``,
``context_id``, ``context``, ``surprisal``), the file the official collation puts in the
submission; the figure is then fitted from them (``aoa_fit``).

What is ours is the speed: the texts are encoded once per distinct tokenizer, and each
checkpoint scores them all in one pass of the prefix-tree scorer (the official code runs one
text at a time). The run's final model is scored too (``final_surprisal.json``, step
"main"): the official file and figure hold only the word checkpoints.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm.config import AOA_TASK, EvalConfig
from babylm.errors import BabylmError
from babylm.evaluation.aoa_data import AoaWords, HumanAoa, read_aoa
from babylm.runfolder import EvalFolder, RunFolder, atomic_write_text, read_json, write_json

MILLION = 1_000_000
"""The official ``word_count`` of ``chck_<n>M`` is n x 10^6."""
METRIC = (
    "Pearson r between the model's and the children's ages of acquisition (the official"
    " curve_fitness)"
)


@dataclass(frozen=True)
class AoaSelection:
    """What an AoA evaluation scores: the words, the children's data, the checkpoints."""

    words: AoaWords
    human: HumanAoa
    checkpoints: list[tuple[str, Path, int]]
    """(name, folder, official word_count) of each word checkpoint, in order."""
    index: dict[str, Any]
    """``word_checkpoints/index.json``: each checkpoint's words seen and step."""
    source: str


def select_aoa(ev: EvalConfig, run: RunFolder | None) -> AoaSelection | None:
    """The AoA evaluation ``ev`` asks for (None if it does not), read and checked: the run's
    word checkpoints and both AoA files of ``ev.data_dir``."""
    from babylm.word_checkpoints import list_word_checkpoints

    if AOA_TASK not in ev.tasks:
        return None
    if run is None:
        raise BabylmError(
            "aoa: needs a run folder (runs/<name>) with word checkpoints, not a model folder"
        )
    if not ev.data_dir:
        raise BabylmError("aoa: needs --eval-data DIR (the official full_eval, with its aoa/)")
    found = list_word_checkpoints(run)
    if not found:
        raise BabylmError(
            f"{run.word_checkpoints}: no word checkpoints (chck_<n>M); aoa fits each word's"
            " surprisal over them: train with train.word_checkpoints=true"
        )
    words, human = read_aoa(Path(ev.data_dir))
    index_path = run.word_checkpoint_index
    index = read_json(index_path) if index_path.is_file() else {}
    checkpoints = [(folder.name, folder, millions * MILLION) for millions, folder in found]
    return AoaSelection(words, human, checkpoints, index, str(run.word_checkpoints))


def texts(words: AoaWords) -> list[tuple[str, str]]:
    """(text, word) per (word, context), in the official order."""
    return [
        (context.strip() + " " + word.strip(), word.strip())
        for word, contexts in zip(words.words, words.contexts, strict=True)
        for context in contexts
    ]


def word_runs(offsets: list[tuple[int, int]], text: str, word: str) -> list[tuple[int, int]]:
    """The word's token positions as ``[start, stop)`` runs: tokens whose span ends after the
    word's first character, position 0 excluded (special tokens span (0, 0): never)."""
    start = len(text) - len(word)
    runs: list[tuple[int, int]] = []
    for i, (_, end) in enumerate(offsets):
        if i >= 1 and end > start:
            if runs and runs[-1][1] == i:
                runs[-1] = (runs[-1][0], i + 1)
            else:
                runs.append((i, i + 1))
    return runs


class Scorer:
    """Scores the texts with one checkpoint after another; the encoding (and the spans the
    causal scorer asks for) is made once per distinct tokenizer."""

    def __init__(self, items: list[tuple[str, str]], ev: EvalConfig) -> None:
        self.items, self.ev = items, ev
        self._plan: tuple[Any, Any, Any] | None = None  # (tokenizer key, spans, per-text runs)

    def score(self, folder: Path) -> tuple[list[float], str]:
        """Each text's surprisal under the model in ``folder``, and the backend used."""
        from babylm.evaluation.run import suite_model

        model, tok, backend = suite_model(folder, self.ev.backend)
        if backend == "causal":
            values = self._causal(model, tok)
        else:
            values = self._masked(model, tok, next_token=backend == "mntp")
        del model
        return values, backend

    def _encode(self, tok: Any) -> Any:
        return tok([t for t, _ in self.items], return_offsets_mapping=True)

    def _causal(self, model: Any, tok: Any) -> list[float]:
        from babylm.evaluation.suite import SpanScores

        key = tok.backend_tokenizer.to_str()
        if self._plan is None or self._plan[0] != key:
            enc, wanted, spans = self._encode(tok), SpanScores(), []
            for (text, word), ids, offsets in zip(
                self.items, enc["input_ids"], enc["offset_mapping"], strict=True
            ):
                spans.append([wanted.want(ids[:b], a) for a, b in word_runs(offsets, text, word)])
            self._plan = (key, wanted, spans)
        _, wanted, spans = self._plan
        pad = next((i for i in (tok.pad_token_id, tok.eos_token_id) if i is not None), 0)
        totals = wanted.run(model, self.ev, pad)
        return [-float(sum(totals[k] for k in runs)) for runs in spans]

    def _masked(self, model: Any, tok: Any, next_token: bool) -> list[float]:
        import torch

        from babylm.evaluation.suite_masked import masked_copies, masked_logprobs

        enc = self._encode(tok)
        rows, owner = [], []
        for k, ((text, word), ids, offsets) in enumerate(
            zip(self.items, enc["input_ids"], enc["offset_mapping"], strict=True)
        ):
            for row in masked_copies(tok, text, word, ids, offsets, next_token):
                rows.append(row)
                owner.append(k)
        logprob = masked_logprobs(model, tok, rows, self.ev.batch_size)
        members: dict[int, list[int]] = {}
        for r, k in enumerate(owner):
            members.setdefault(k, []).append(r)
        values = [math.nan] * len(self.items)  # no token to mask: the official code's NaN
        for k, rs in members.items():
            values[k] = -torch.sum(logprob[rs]).item()  # fp32, in token order, as officially
        return values


def surprisal_rows(
    step: str, word_count: int | None, words: AoaWords, values: list[float]
) -> list[dict[str, Any]]:
    """The official rows of one checkpoint (the word and context as given, unstripped)."""
    flat = iter(values)
    return [
        {
            "step": step,
            "word_count": word_count,
            "target_word": word,
            "context_id": i,
            "context": context,
            "surprisal": next(flat),
        }
        for word, contexts in zip(words.words, words.contexts, strict=True)
        for i, context in enumerate(contexts)
    ]


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else None


def _official_file(name: str, rows: list[dict[str, Any]], steps: int) -> str:
    metadata = {"model_name": name, "use_bos_only": False, "total_steps": steps}
    metadata["completed_steps"] = len({r["step"] for r in rows})
    return json.dumps({"metadata": metadata, "results": rows})


def evaluate_aoa(
    selection: AoaSelection,
    model_dir: Path,
    out: Path,
    ev: EvalConfig,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score every word checkpoint and the final model; write ``surprisal.json`` (official),
    ``final_surprisal.json`` and ``results.json`` into ``out/babylm/aoa/``; return the
    results (the headline: the official figure)."""
    from babylm.evaluation.aoa_fit import curve_fitness

    started = time.perf_counter()
    scorer, words = Scorer(texts(selection.words), ev), selection.words
    rows: list[dict[str, Any]] = []
    checkpoints: dict[str, Any] = {}
    backend = ""
    for name, folder, word_count in selection.checkpoints:
        values, backend = scorer.score(folder)
        rows += surprisal_rows(name, word_count, words, values)
        recorded = selection.index.get(name, {})
        checkpoints[name] = {
            "word_count": word_count,
            "words_seen": recorded.get("words_seen"),
            "step": recorded.get("step"),
            "mean_surprisal": _mean(values),
        }
        print(f"aoa: {name} scored ({len(values):,} contexts)", flush=True)
    final, _ = scorer.score(model_dir)
    seconds = time.perf_counter() - started
    fitted = curve_fitness(rows, selection.human)
    folder = EvalFolder(out)
    n = len(selection.checkpoints)
    atomic_write_text(folder.aoa_surprisal, _official_file(selection.source, rows, n))
    final_rows = surprisal_rows("main", None, words, final)
    atomic_write_text(folder.aoa_final, _official_file(str(model_dir), final_rows, 1))
    figure = fitted["curve_fitness"]
    print(
        f"aoa: r {figure:.4f} over {fitted['n_words']} words with both ages of acquisition"
        f" ({len(words.words)} scored; under 3, the official figure is 0.0)",
        flush=True,
    )
    result = {
        "task": AOA_TASK,
        "protocol": "babylm",
        "backend": backend,
        "headline": figure,
        "headlines": {AOA_TASK: figure},
        "metric": METRIC,
        "p_value": fitted["p_value"],
        "n_words": fitted["n_words"],
        "n_words_scored": len(words.words),
        "n_items": words.n_rows,
        "checkpoints": checkpoints,
        "final": {"model": str(model_dir), "mean_surprisal": _mean(final)},
        "scoring_s": round(seconds, 2),
        "data": [words.source, selection.human.source],
        "words": fitted["words"],
        "model": str(model_dir),
        **(extra or {}),
    }
    write_json(folder.suite_result(AOA_TASK), result)
    return result


def submission_aoa(path: Path, revisions: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The submission's ``aoa`` entry, as the official collation copies it: ``surprisal.json``
    with the rows of the track's checkpoints (in file order; any other checkpoint's left out),
    and what keeps it from being complete (a missing file, checkpoint, or uneven rows)."""
    if not path.is_file():
        return None, [f"aoa ({path}: babylm eval RUN --tasks aoa --eval-data DIR)"]
    data = read_json(path)
    rows = data.get("results") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "step" in r for r in rows):
        raise BabylmError(f'{path}: not an AoA surprisal file (a "results" list of rows)')
    wanted = set(revisions)
    kept = [r for r in rows if r["step"] in wanted]
    counts = Counter(r["step"] for r in kept)
    problems = []
    absent = [r for r in revisions if r not in counts]
    if absent:
        problems.append(f"aoa checkpoint {', '.join(absent)} (not in {path})")
    if len(set(counts.values())) > 1:
        problems.append(f"aoa ({path}: the checkpoints have different numbers of rows)")
    metadata = dict(data.get("metadata") or {})
    metadata |= {"total_steps": len(revisions), "completed_steps": len(counts)}
    return {"metadata": metadata, "results": kept}, problems

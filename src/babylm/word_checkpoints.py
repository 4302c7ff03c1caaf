"""The BabyLM challenge's word-budget checkpoints: ``RUN/word_checkpoints/chck_<n>M``.

The challenge asks for the model after every 1M words seen up to 10M, every 10M up to 100M,
then every 100M: words counted as whitespace-separated words of the training text seen,
repeats included. The words are counted as training goes: every training example carries the
words of the lines that start in it (``packing.WORDS``), the collator sums them per batch, the
trainer adds up each batch it trains (over all processes), and a checkpoint is the model at
the first optimizer step whose count reaches the mark. The count is part of the trainer's
checkpoint state (``trainer_state.json``), so a resumed run goes on from the exact count.
Each checkpoint is a complete Hugging Face folder (safetensors and tokenizer), listed with its
step and counts in ``index.json``.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from babylm.packing import WORDS
from babylm.runfolder import RunFolder, read_json, staged_output, write_json

WORDS_PER_MARK = 1_000_000
"""One "M" of a checkpoint name (tests shrink it to exercise the schedule on tiny corpora)."""
_NAME = re.compile(r"^chck_(\d+)M$")


def schedule_millions(up_to_words: int) -> list[int]:
    """The official marks (in millions of words) up to ``up_to_words``."""
    marks = [*range(1, 10), *range(10, 100, 10)]
    marks += list(range(100, max(100, up_to_words // WORDS_PER_MARK) + 100, 100))
    return [m for m in marks if m * WORDS_PER_MARK <= up_to_words]


def count_words(path: Path) -> int:
    """Whitespace-separated words of a text file, read in blocks (a 100M-word file is fine)."""
    words, tail = 0, b""
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            block = tail + block
            cut = max(block.rfind(b" "), block.rfind(b"\n"), block.rfind(b"\t"))
            if cut < 0:
                tail = block
                continue
            words += len(block[:cut].split())
            tail = block[cut:]
    return words + len(tail.split())


def list_word_checkpoints(run: RunFolder) -> list[tuple[int, Path]]:
    """``(millions, folder)`` of a run's complete word checkpoints, in order."""
    folder = run.word_checkpoints
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted((n, p) for n, p in found if (p / "model.safetensors").is_file())


class WordCountingCollator:
    """A collator that sums the training examples' ``words`` into the batch (one integer
    tensor, which the trainer takes out) and hands the rest of each example to ``inner``.
    Dev examples have no words: their batches are ``inner``'s alone."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if not any(WORDS in f for f in features):
            return self.inner(features)
        words = sum(int(f.get(WORDS, 0)) for f in features)
        batch = self.inner([{k: v for k, v in f.items() if k != WORDS} for f in features])
        batch[WORDS] = torch.tensor(words, dtype=torch.long)
        return batch


class WordCheckpoints(TrainerCallback, ExportableState):
    """Counts the words trained on and saves ``chck_<n>M`` at the first optimizer step whose
    count reaches each mark. ``words_seen``: the count so far (a resumed run's from its
    checkpoint, ``resumed_words``)."""

    def __init__(self, run: RunFolder, tok: Any, ema: Any = None, words_seen: int = 0) -> None:
        self.run, self.out, self.tok = run, run.word_checkpoints, tok
        self.ema = ema
        """A ``babylm.ema.WeightAverage``: the checkpoints then hold the average, as the run's
        model does."""
        self.words_seen = words_seen
        self.index_path = run.word_checkpoint_index

    def add(self, words: int) -> None:
        """Words of a batch just trained (already summed over the processes)."""
        self.words_seen += words

    def state(self) -> dict[str, Any]:
        """What the Trainer stores in each checkpoint's ``trainer_state.json``."""
        return {"args": {}, "attributes": {"words_seen": self.words_seen}}

    def on_step_end(self, args, state, control, model=None, **kwargs) -> None:  # type: ignore[override]
        if not state.is_world_process_zero or model is None:
            return
        words = self.words_seen
        done = {n for n, _ in list_word_checkpoints(self.run)}
        for mark in schedule_millions(words):
            if mark not in done:
                self._save(mark, model, state, words)

    def _save(self, mark: int, model: Any, state: Any, words: int) -> None:
        from babylm.tokenizer import save_tokenizer

        averaged = self.ema.swapped_in(model) if self.ema is not None else nullcontext()
        with averaged, staged_output(self.out / f"chck_{mark}M") as tmp:
            model.save_pretrained(str(tmp), safe_serialization=True)
            save_tokenizer(self.tok, tmp)
        index = read_json(self.index_path) if self.index_path.is_file() else {}
        index[f"chck_{mark}M"] = {
            "words_mark": mark * WORDS_PER_MARK,
            "words_seen": words,
            "step": state.global_step,
            "tokens_seen": state.num_input_tokens_seen,
            "epoch": round(state.epoch or 0.0, 4),
        }
        write_json(self.index_path, dict(sorted(index.items(), key=lambda kv: _millions(kv[0]))))


def resumed_words(trainer_state: dict[str, Any]) -> int | None:
    """The words counted up to a checkpoint, from its ``trainer_state.json`` (None: saved by
    a babylm that did not count them)."""
    saved = (trainer_state.get("stateful_callbacks") or {}).get(WordCheckpoints.__name__)
    if isinstance(saved, list):  # the Trainer lists several callbacks of one class
        saved = saved[0] if saved else None
    words = (saved or {}).get("attributes", {}).get("words_seen")
    return int(words) if isinstance(words, int) else None


def counting_trainer(trainer_class: type) -> type:
    """``trainer_class`` that takes each batch's ``words`` out before the model sees it and
    adds them, summed over the processes, to ``counter`` (a :class:`WordCheckpoints`)."""

    class WordCountingTrainer(trainer_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, counter: WordCheckpoints, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.word_counter = counter

        def training_step(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any):
            words = inputs.pop(WORDS, None)
            if words is not None:
                words = torch.as_tensor(words, device=self.args.device).reshape(1)
                self.word_counter.add(int(self.accelerator.gather(words).sum().item()))
            return super().training_step(model, inputs, *args, **kwargs)

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            # A state resumed from a checkpoint saved without the count has no entry to update.
            self.state.stateful_callbacks.setdefault(WordCheckpoints.__name__, {})
            super()._save_checkpoint(model, trial)

    WordCountingTrainer.__name__ = f"WordCounting{trainer_class.__name__}"
    return WordCountingTrainer


def _millions(name: str) -> int:
    m = _NAME.match(name)
    return int(m.group(1)) if m else 0

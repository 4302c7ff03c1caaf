"""The BabyLM challenge's word-budget checkpoints: ``RUN/word_checkpoints/chck_<n>M``.

The challenge asks for the model after every 1M words seen up to 10M, every 10M up to 100M,
then every 100M: words counted as whitespace-separated words of the training text seen,
repeats included. An epoch shows the model every line of ``corpus/train.txt`` once, so the
words seen after optimizer step s are ``s / steps_per_epoch`` times the file's word count
(interpolated linearly within an epoch); the checkpoint is the model at the first step whose
count reaches the mark. Each is a complete Hugging Face folder (safetensors and tokenizer),
listed with its step and counts in ``index.json``.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

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


class WordCheckpoints(TrainerCallback):
    """Saves ``chck_<n>M`` at the first optimizer step whose words seen reach each mark."""

    def __init__(
        self, run: RunFolder, words_per_epoch: int, steps_per_epoch: int, tok: Any, ema: Any = None
    ) -> None:
        self.run, self.out, self.tok = run, run.word_checkpoints, tok
        self.ema = ema
        """A ``babylm.ema.WeightAverage``: the checkpoints then hold the average, as the run's
        model does."""
        self.words_per_epoch, self.steps_per_epoch = words_per_epoch, steps_per_epoch
        self.index_path = run.word_checkpoint_index

    def words_at(self, step: int) -> int:
        return round(step * self.words_per_epoch / self.steps_per_epoch)

    def on_step_end(self, args, state, control, model=None, **kwargs) -> None:  # type: ignore[override]
        if not state.is_world_process_zero or model is None:
            return
        words = self.words_at(state.global_step)
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


def _millions(name: str) -> int:
    m = _NAME.match(name)
    return int(m.group(1)) if m else 0

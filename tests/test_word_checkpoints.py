"""Word checkpoints at the words actually trained on, counted by hand on a tiny corpus, and the
count carried across a crash and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict

from babylm import word_checkpoints
from babylm.config import TokenizerConfig, load_config
from babylm.packing import WORDS, build_examples
from babylm.pipeline import run_corpus, run_tokenizer, run_train
from babylm.runfolder import RunFolder
from babylm.tokenizer import train_tokenizer

NOUNS = ["cat", "dog", "bird", "fish", "horse", "cow", "duck", "frog", "goat", "hen", "pig"]
VERBS = ["sees", "likes", "finds", "helps"]
# 22 lines of exactly five words: a batch of n lines holds 5n words, whatever the shuffle.
LINES = [f"the {NOUNS[i % 11]} {VERBS[i % 4]} a {NOUNS[(3 * i + 1) % 11]}" for i in range(22)]
BATCH, ACCUM, EPOCHS, PER_MARK = 4, 2, 2, 20
SETTINGS = [
    "train.packing=reference",  # one line per example: a batch of 4 examples is 4 lines
    f"train.batch_size={BATCH}",
    f"train.grad_accum={ACCUM}",
    f"train.epochs={EPOCHS}",
    "train.max_steps=null",
    "train.eval_steps=2",
    "train.warmup_steps=0",
    "train.word_checkpoints=true",
]


def by_hand(lines: list[str]) -> dict[str, tuple[int, int]]:
    """``chck_<n>M``: (optimizer step, words seen), counted without babylm: each epoch's lines
    in batches of ``BATCH`` (the last one short), ``ACCUM`` batches an optimizer step."""
    per_line = {len(line.split()) for line in lines}
    assert per_line == {5}
    batches = [min(BATCH, len(lines) - i) for i in range(0, len(lines), BATCH)]  # 4,4,4,4,4,2
    steps = [sum(batches[i : i + ACCUM]) * 5 for i in range(0, len(batches), ACCUM)]  # 40,40,30
    seen, total = [], 0
    for words in steps * EPOCHS:
        total += words
        seen.append(total)  # 40, 80, 110, 150, 190, 220
    expected = {}
    for mark in [*range(1, 10), *range(10, 100, 10)]:
        step = next((s for s, w in enumerate(seen, 1) if w >= mark * PER_MARK), None)
        if step is not None:
            expected[f"chck_{mark}M"] = (step, seen[step - 1])
    return expected


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke run's corpus and tokenizer, its train.txt replaced by ``LINES``."""
    run_dir = tmp_path_factory.mktemp("words") / "run"
    cfg = load_config("smoke")
    run_corpus(cfg, run_dir)
    run_tokenizer(cfg, run_dir)
    RunFolder(run_dir).train_text.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return run_dir


def _index(run_dir: Path) -> dict[str, tuple[int, int]]:
    index = json.loads(RunFolder(run_dir).word_checkpoint_index.read_text())
    return {name: (e["step"], e["words_seen"]) for name, e in index.items()}


def test_each_example_carries_the_words_of_the_lines_that_start_in_it(
    tmp_path: Path,
) -> None:
    lines = ["one two three", "a much longer line " + "that goes on and on " * 8, "four five"]
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines * 4) + "\n", encoding="utf-8")
    tok = train_tokenizer(TokenizerConfig(vocab_size=300), path, 64)
    raw = DatasetDict({"train": Dataset.from_dict({"text": lines * 4})})
    raw["validation"] = raw["train"]
    total = sum(len(line.split()) for line in lines * 4)
    for mode in ("reference", "sentence", "isolated"):
        built = build_examples(raw, tok, mode, 16, count_words=True)
        assert sum(built["train"][WORDS]) == total, mode  # every line once, cut or not
        assert 0 in built["train"][WORDS], mode  # a long line's continuation counts nothing
        assert WORDS not in built["validation"].column_names
    packed = build_examples(raw, tok, "packed", 16, count_words=True)["train"][WORDS]
    assert 0 < sum(packed) <= total  # lines starting in the dropped tail are never seen
    assert WORDS not in build_examples(raw, tok, "sentence", 16)["train"].column_names


@pytest.mark.slow
def test_word_checkpoints_fall_where_the_words_trained_reach_each_mark(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(word_checkpoints, "WORDS_PER_MARK", PER_MARK)
    expected = by_hand(LINES)
    assert list(expected) == [f"chck_{m}M" for m in [*range(1, 10), 10]]
    cfg = load_config("smoke", SETTINGS)

    straight = tmp_path / "straight"
    shutil.copytree(prepared, straight)
    run_train(cfg, straight)
    assert _index(straight) == expected
    found = word_checkpoints.list_word_checkpoints(RunFolder(straight))
    assert [m for m, _ in found] == [*range(1, 10), 10]

    # Killed inside step 5 (after checkpoint-4, before any word checkpoint of step 5), then
    # resumed: the count goes on from checkpoint-4's, not from zero.
    class Crash(Exception):
        pass

    original = word_checkpoints.WordCheckpoints.on_step_end

    def crash_at_5(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if state.global_step == 5:
            raise Crash
        return original(self, args, state, control, **kwargs)

    resumed = tmp_path / "resumed"
    shutil.copytree(prepared, resumed)
    monkeypatch.setattr(word_checkpoints.WordCheckpoints, "on_step_end", crash_at_5)
    with pytest.raises(Crash):
        run_train(cfg, resumed)
    assert max(s for s, _ in _index(resumed).values()) == 4
    monkeypatch.setattr(word_checkpoints.WordCheckpoints, "on_step_end", original)
    run_train(cfg, resumed)
    summary = RunFolder(resumed).read_summary()
    assert summary is not None and summary.resumed_from_step == 4
    assert _index(resumed) == expected


def test_the_collator_sums_the_words_and_the_model_never_sees_them() -> None:
    seen = []

    def inner(features: list[dict]) -> dict:
        seen.append([sorted(f) for f in features])
        return {"input_ids": [f["input_ids"] for f in features]}

    collate = word_checkpoints.WordCountingCollator(inner)
    batch = collate([{"input_ids": [1, 5], WORDS: 3}, {"input_ids": [1, 6], WORDS: 0}])
    assert int(batch[WORDS]) == 3 and seen[-1] == [["input_ids"], ["input_ids"]]
    assert WORDS not in collate([{"input_ids": [1, 7]}])  # a dev batch: no words to count

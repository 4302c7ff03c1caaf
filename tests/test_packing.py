"""The three ways of turning corpus lines into training examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict
from transformers import PreTrainedTokenizerFast

from babylm.config import TokenizerConfig
from babylm.packing import build_examples, example_stats, load_text
from babylm.tokenizer import train_tokenizer

LINES = [
    "The cat sat on the mat.",
    "A very long line " + "that goes on and on " * 12 + "until it ends.",
    "Dogs bark.",
    "Where is the ball?",
] * 8


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory) -> PreTrainedTokenizerFast:
    path = tmp_path_factory.mktemp("tok") / "train.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return train_tokenizer(TokenizerConfig(vocab_size=300), path, 64)


def raw() -> DatasetDict:
    ds = Dataset.from_dict({"text": LINES})
    return DatasetDict({"train": ds, "validation": ds})


def line_tokens(tok: PreTrainedTokenizerFast) -> list[list[int]]:
    return tok(LINES, add_special_tokens=False)["input_ids"]


def test_packed_blocks_are_full_and_joined_with_eos(tok: PreTrainedTokenizerFast) -> None:
    blocks = build_examples(raw(), tok, "packed", 16)["train"]["input_ids"]
    assert all(len(b) == 16 for b in blocks)
    stream = [t for ids in line_tokens(tok) for t in [*ids, tok.eos_token_id]]
    flat = [t for b in blocks for t in b]
    assert flat == stream[: len(flat)] and len(stream) - len(flat) < 16
    assert tok.bos_token_id not in flat


def test_sentence_blocks_start_with_bos_at_line_starts(tok: PreTrainedTokenizerFast) -> None:
    seq_len = 32
    blocks = build_examples(raw(), tok, "sentence", seq_len)["train"]["input_ids"]
    items = [[tok.bos_token_id, *ids, tok.eos_token_id] for ids in line_tokens(tok)]
    assert [t for b in blocks for t in b] == [t for item in items for t in item]  # nothing lost
    assert all(len(b) <= seq_len for b in blocks)
    long_line = max(len(i) for i in items)
    assert long_line > seq_len
    for block in blocks:
        # A block starts a line, unless it continues a line longer than a block.
        assert block[0] == tok.bos_token_id or len(block) == seq_len or block[-1] == 2
    starts = sum(b[0] == tok.bos_token_id for b in blocks)
    assert starts >= len(blocks) - len(LINES) // 4 * (long_line // seq_len)


def test_reference_mode_is_one_line_per_example_with_overflow(
    tok: PreTrainedTokenizerFast,
) -> None:
    built = build_examples(raw(), tok, "reference", 16)["train"]
    examples = [
        [t for t, m in zip(ids, mask, strict=True) if m]
        for ids, mask in zip(built["input_ids"], built["attention_mask"], strict=True)
    ]
    assert all(len(e) == 16 for e in built["input_ids"])  # padded to the longest, as the reference
    assert all(0 < len(e) <= 16 for e in examples)
    # Every window, overflow included, gets the tokenizer's specials (here a <s>), as in HF.
    assert all(e[0] == tok.bos_token_id for e in examples)
    text_tokens = sum(len(e) - 1 for e in examples)
    assert text_tokens == sum(map(len, line_tokens(tok)))  # the overflow is kept, not dropped
    assert len(examples) > len(LINES)


def test_padding_share(tok: PreTrainedTokenizerFast) -> None:
    data = raw()
    packed = build_examples(data, tok, "packed", 16)["train"]
    assert example_stats(packed, "packed", 16, 4)["padding_share"] == 0.0
    ref = build_examples(data, tok, "reference", 16)["train"]
    stats = example_stats(ref, "reference", 16, 4)
    assert 0.0 < stats["padding_share"] < 1.0
    assert stats["tokens"] == sum(sum(m) for m in ref["attention_mask"])
    assert stats["positions"] == sum(len(e) for e in ref["input_ids"])


def test_load_text_drops_empty_lines(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("a b\n\n  \nc d\n", encoding="utf-8")
    ds = load_text(tmp_path / "t.txt", tmp_path / "t.txt", tmp_path / "cache")
    assert ds["train"]["text"] == ["a b", "c d"]

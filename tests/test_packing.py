"""The four ways of turning corpus lines into training examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from babylm.config import ModelConfig, TokenizerConfig
from babylm.model import llama_config
from babylm.packing import IsolatedCollator, build_examples, example_stats, load_text
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
    for i, block in enumerate(blocks):
        # A block starts a line, unless it continues a line longer than a block: then the
        # block before it is full and stops inside that line (not at its </s>).
        if block[0] != tok.bos_token_id:
            before = blocks[i - 1] if i else []
            assert len(before) == seq_len and before[-1] != tok.eos_token_id
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


def test_isolated_blocks_are_sentence_blocks_with_positions_restarting_per_line(
    tok: PreTrainedTokenizerFast,
) -> None:
    seq_len = 32
    sentence = build_examples(raw(), tok, "sentence", seq_len)["train"]
    isolated = build_examples(raw(), tok, "isolated", seq_len)["train"]
    assert isolated["input_ids"] == sentence["input_ids"]
    for ids, pos in zip(isolated["input_ids"], isolated["position_ids"], strict=True):
        assert len(pos) == len(ids) and pos[0] == 0
        for i in range(1, len(ids)):
            # Position 0 exactly at each <s>; counting up inside a line.
            assert (pos[i] == 0) == (ids[i] == tok.bos_token_id)
            if pos[i]:
                assert pos[i] == pos[i - 1] + 1


def test_isolated_batches_score_every_line_as_if_it_were_alone(
    tok: PreTrainedTokenizerFast,
) -> None:
    """The point of the mode: inside a batch, a line's log-probs equal the line's on its own."""
    torch.manual_seed(0)
    cfg = ModelConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    model = LlamaForCausalLM(
        llama_config(cfg, len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    ).eval()
    examples = build_examples(raw(), tok, "isolated", 48)["train"]
    features = [examples[i] for i in range(3)]
    batch = IsolatedCollator(tok.pad_token_id, tok.bos_token_id)(features)
    assert set(batch) == {"input_ids", "position_ids", "labels"}
    assert (batch["labels"][batch["input_ids"] == tok.bos_token_id] == -100).all()
    with torch.no_grad():
        # As the Trainer calls it (use_cache=False, see train.training_arguments).
        packed = model(**batch, use_cache=False).logits
    checked = 0
    for row, f in enumerate(features):
        starts = [i for i, p in enumerate(f["position_ids"]) if p == 0]
        for start, end in zip(starts, [*starts[1:], len(f["input_ids"])], strict=True):
            alone_ids = torch.tensor([f["input_ids"][start:end]])
            with torch.no_grad():
                alone = model(input_ids=alone_ids).logits[0]
            torch.testing.assert_close(packed[row, start:end], alone, atol=1e-4, rtol=1e-4)
            checked += 1
    assert checked > len(features)  # some rows hold several lines
    padded = batch["labels"][batch["input_ids"] == tok.pad_token_id]
    assert (padded == -100).all()

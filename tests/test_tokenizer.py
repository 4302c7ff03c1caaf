"""BPE training, special ids, BOS, round trip, offline reload, and the reference style."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from babylm.config import TokenizerConfig, load_config
from babylm.corpus import build_corpus
from babylm.tokenizer import save_tokenizer, tokenizer_stats, train_tokenizer

CORPUS = "\n".join(
    f"The {animal} {verb} the {thing} near {place}. Où est le café, {i}?"
    for i, (animal, verb, thing, place) in enumerate(
        [
            (a, v, t, p)
            for a in ("cat", "dog", "bird", "child")
            for v in ("saw", "took", "wanted")
            for t in ("ball", "apple", "book")
            for p in ("home", "the river", "school")
        ]
    )
)


@pytest.fixture(scope="module")
def standard(tmp_path_factory: pytest.TempPathFactory) -> PreTrainedTokenizerFast:
    folder = tmp_path_factory.mktemp("tok")
    (folder / "train.txt").write_text(CORPUS, encoding="utf-8")
    return train_tokenizer(TokenizerConfig(vocab_size=330), folder / "train.txt", 128)


def test_special_ids_and_bos_prefix(standard: PreTrainedTokenizerFast) -> None:
    assert (standard.pad_token_id, standard.bos_token_id, standard.eos_token_id) == (0, 1, 2)
    assert standard.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "<s>", "</s>"]
    ids = standard("The cat saw the ball.")["input_ids"]
    assert ids[0] == 1 and 1 not in ids[1:]
    assert standard("The cat", add_special_tokens=False)["input_ids"][0] != 1
    assert len(standard) == 330
    assert standard.model_max_length == 128


def test_bpe_learnt_merges(standard: PreTrainedTokenizerFast) -> None:
    # Frequent words are single tokens, not bytes.
    assert len(standard("The cat saw the ball", add_special_tokens=False)["input_ids"]) <= 6


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_decode_encode_round_trip(standard: PreTrainedTokenizerFast, text: str) -> None:
    assume(not any(s in text for s in ("<pad>", "<s>", "</s>")))
    ids = standard(text)["input_ids"]
    assert standard.decode(ids, skip_special_tokens=True) == text


def test_offline_reload_gives_identical_encodings(
    standard: PreTrainedTokenizerFast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    save_tokenizer(standard, tmp_path)
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    text = ["The dog took the apple.", "Zürich 😀 naïve"]
    assert again(text)["input_ids"] == standard(text)["input_ids"]
    assert (again.pad_token_id, again.bos_token_id, again.eos_token_id) == (0, 1, 2)
    assert (
        '"tokenizer_class": "PreTrainedTokenizerFast"'
        in (tmp_path / "tokenizer_config.json").read_text()
    )


def test_stats(standard: PreTrainedTokenizerFast) -> None:
    stats = tokenizer_stats(standard, "The cat saw the ball.\nThe dog took the book.\n")
    assert stats["vocab_size"] == 330
    assert 1.0 < stats["bytes_per_token"] < 10
    assert 0.5 < stats["tokens_per_word"] < 3


def test_reference_style_mirrors_the_reference_tokenizer(tmp_path: Path) -> None:
    cfg = load_config("reference-a")
    build_corpus(cfg.corpus, tmp_path)
    tok = train_tokenizer(cfg.tokenizer, tmp_path / "train.txt", 512)
    assert len(tok) == 16_002
    assert tok.bos_token == tok.eos_token == "<|endoftext|>"
    assert (tok.bos_token_id, tok.pad_token_id) == (16_000, 16_001)
    ids = tok("The CAT sat.")["input_ids"]
    assert tok.bos_token_id not in ids  # the reference adds no BOS
    assert tok.decode(ids) == "the cat sat."  # NFD + lowercase + strip

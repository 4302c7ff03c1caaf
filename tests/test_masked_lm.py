"""Pseudo-log-likelihood for masked LMs, checked against minicons (needs the `eval` extra)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

from babylm.config import EvalConfig
from babylm.evaluation import blimp_pairs, evaluate_model
from babylm.evaluation.scoring import score_masked
from tests.conftest import require

SENTENCES = ["The cat sat on the mat.", "Who did the dog see?", "Unbelievably, dogs bark."]


@pytest.fixture(scope="module")
def masked_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mlm")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>", "<mask>"]
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(SENTENCES * 10, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        bos_token="<s>",
        eos_token="</s>",
        mask_token="<mask>",
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(wrapped),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    BertForMaskedLM(config).eval().save_pretrained(str(folder))
    wrapped.save_pretrained(str(folder))
    return folder


@pytest.mark.parametrize("variant", ["original", "within_word_l2r"])
def test_pll_matches_minicons(masked_dir: Path, variant: str) -> None:
    scorer_mod = require("minicons.scorer")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(masked_dir))
    model = BertForMaskedLM.from_pretrained(str(masked_dir)).eval()
    ours = score_masked(model, tok, SENTENCES, variant, batch_size=7, progress=False)
    scorer = scorer_mod.MaskedLMScorer(str(masked_dir), device="cpu")
    if not hasattr(scorer.tokenizer, "batch_encode_plus"):
        # minicons still calls this transformers 4 method, which transformers 5 removed.
        object.__setattr__(scorer.tokenizer, "batch_encode_plus", scorer.tokenizer.__call__)
    theirs = scorer.sequence_score(
        SENTENCES, reduction=lambda x: x.sum(0).item(), PLL_metric=variant
    )
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_variants_differ_on_multi_token_words(masked_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(masked_dir))
    model = BertForMaskedLM.from_pretrained(str(masked_dir)).eval()
    word = "Zebras"  # unseen in training: split into pieces
    assert len(tok(word, add_special_tokens=False)["input_ids"]) > 1
    original, l2r = (
        score_masked(model, tok, [word], v, progress=False)[0]
        for v in ("original", "within_word_l2r")
    )
    assert original != pytest.approx(l2r)


def test_eval_scores_a_masked_lm_by_pll(masked_dir: Path, tmp_path: Path) -> None:
    pairs = blimp_pairs(per_paradigm=2, paradigms=["passive_1"])
    results = evaluate_model(masked_dir, tmp_path, {"blimp": pairs}, EvalConfig(batch_size=16))
    assert results["blimp"]["protocol"] == "pll-within_word_l2r"
    assert json.loads((tmp_path / "blimp.json").read_text())["n_pairs"] == 2

"""Pseudo-log-likelihood for masked LMs, checked against minicons (needs the `eval` extra)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import BertForMaskedLM

from babylm.config import EvalConfig
from babylm.evaluation import evaluate
from babylm.evaluation.scoring import score_masked
from tests.conftest import SENTENCES, require


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
    ev = EvalConfig(tasks=["blimp"], per_paradigm=2, paradigms=["passive_1"], batch_size=16)
    results = evaluate(ev, masked_dir, tmp_path)
    assert results["blimp"]["protocol"] == "pll-within_word_l2r"
    assert json.loads((tmp_path / "blimp.json").read_text())["n_pairs"] == 2

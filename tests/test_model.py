"""Exact parameter counts, checked against LlamaForCausalLM itself."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaForCausalLM

from babylm.config import ModelConfig, load_config
from babylm.model import config_for_preset, llama_config, parameter_counts, train_flops_per_token


def real_count(cfg) -> int:
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "shape",
    [
        ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=96),
        ModelConfig(
            hidden_size=64,
            num_layers=3,
            num_heads=4,
            num_kv_heads=2,
            intermediate_size=128,
            tie_embeddings=True,
        ),
    ],
)
def test_counts_match_the_real_model(shape: ModelConfig) -> None:
    cfg = llama_config(shape, vocab_size=300)
    counts = parameter_counts(cfg)
    assert counts.total == real_count(cfg)
    assert counts.total == counts.embedding + counts.non_embedding


def test_a_26m_has_exactly_the_reference_parameter_count(cli) -> None:
    cfg = config_for_preset(load_config("a-26m"))
    assert parameter_counts(cfg).total == 26_448_768 == real_count(cfg)
    result = cli("model-info", "a-26m")
    assert result.code == 0
    assert "26,448,768" in result.out


def test_reference_presets() -> None:
    ref_a = config_for_preset(load_config("reference-a"))
    assert ref_a.vocab_size == 16_002  # 16,000 BPE entries + <|endoftext|> + <pad>
    assert parameter_counts(ref_a).total == 26_448_768 + 2 * 2 * 384
    b = config_for_preset(load_config("b-66m"))
    assert parameter_counts(b).total == 66_331_136 == real_count(b)


def test_flops_per_token_exceed_six_n() -> None:
    cfg = config_for_preset(load_config("a-26m"))
    counts = parameter_counts(cfg)
    flops = train_flops_per_token(cfg, 128)
    assert 6 * counts.non_embedding < flops < 6 * counts.total + 12 * 6 * 384 * 128
    assert train_flops_per_token(cfg, 512) - flops == 12 * 6 * 384 * (512 - 128)

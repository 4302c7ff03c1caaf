"""Model shape: a ``LlamaConfig`` from the model section, and exact parameter / FLOP counts.

Counts are computed from the shape (no weights are built), and a test checks them against
``LlamaForCausalLM`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import LlamaConfig

from babylm.config import Config, ModelConfig, expected_vocab_size


def llama_config(
    m: ModelConfig,
    vocab_size: int,
    bos_token_id: int | None = None,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
) -> LlamaConfig:
    """The Hugging Face config for this shape; ``m.vocab_size`` wins over ``vocab_size``."""
    return LlamaConfig(
        vocab_size=m.vocab_size or vocab_size,
        hidden_size=m.hidden_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        num_key_value_heads=m.num_kv_heads or m.num_heads,
        intermediate_size=m.intermediate_size,
        max_position_embeddings=m.context_length,
        rms_norm_eps=m.rms_norm_eps,
        rope_theta=m.rope_theta,
        attention_dropout=m.dropout,
        initializer_range=m.init_std,
        tie_word_embeddings=m.tie_embeddings,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
    )


def config_for_preset(cfg: Config) -> LlamaConfig:
    """The model config a run will build, with the vocab size its tokenizer is set to have."""
    return llama_config(cfg.model, expected_vocab_size(cfg.tokenizer))


@dataclass(frozen=True)
class ParameterCounts:
    total: int
    embedding: int
    """Input embeddings plus the output projection when it is not tied to them."""
    non_embedding: int


def parameter_counts(c: LlamaConfig) -> ParameterCounts:
    """Exact parameter counts of ``LlamaForCausalLM(c)`` (no biases, RMSNorm weights only)."""
    d, layers, inter, vocab = (
        c.hidden_size,
        c.num_hidden_layers,
        c.intermediate_size,
        c.vocab_size,
    )
    head_dim = d // c.num_attention_heads
    kv = c.num_key_value_heads * head_dim
    attention = d * d * 2 + d * kv * 2  # q and o: d x d; k and v: d x kv
    mlp = 3 * d * inter  # gate, up, down
    per_layer = attention + mlp + 2 * d  # two RMSNorms
    non_embedding = layers * per_layer + d  # final norm
    embedding = vocab * d * (1 if c.tie_word_embeddings else 2)
    return ParameterCounts(embedding + non_embedding, embedding, non_embedding)


def train_flops_per_token(c: LlamaConfig, seq_len: int) -> int:
    """Training FLOPs per token (forward + backward), PaLM convention (Chowdhery et al., 2022).

    6 x the weights used in matrix products (all layers plus the output projection; the input
    embedding is a lookup) plus 12 x layers x hidden x seq_len for attention scores and values
    over the whole sequence (causal masking is not subtracted).
    """
    counts = parameter_counts(c)
    norms = (2 * c.num_hidden_layers + 1) * c.hidden_size
    matmul_weights = counts.non_embedding - norms + c.vocab_size * c.hidden_size
    attention = 12 * c.num_hidden_layers * c.hidden_size * seq_len
    return 6 * matmul_weights + attention

"""The model: its ``LlamaConfig`` shape, exact parameter / FLOP counts, and the one loader.

Counts are computed from the shape (no weights are built), and a test checks them against
``LlamaForCausalLM`` itself. :func:`load_model` and :func:`load_tokenizer` are how every
command reads a model folder, with one set of error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import LlamaConfig

from babylm.config import Config, ModelConfig, expected_vocab_size
from babylm.errors import BabylmError

KINDS = ("causal", "masked")


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_model(
    folder: Path, kind: str | None = None, *, needed_for: str = "this command", body: bool = False
) -> tuple[Any, str]:
    """A local model in eval mode and its kind, "causal" or "masked", from its config.

    ``body``: the transformer without its LM head (``AutoModel``), as fine-tuning puts a
    classifier on it.

    Safetensors weights only, no remote code, local files only (nothing downloaded); float32
    on the CPU, the checkpoint's own dtype on CUDA when there is a GPU. With ``kind``, a model
    of the other kind is refused (``needed_for`` says what needs it). Every failure a user can
    fix is one :class:`BabylmError` line that names the folder.
    """
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, not {kind!r}")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise BabylmError(f"{folder}: no config.json (not a Hugging Face model folder)")
    if not list(folder.glob("*.safetensors")):
        raise BabylmError(f"{folder}: no *.safetensors weights (only safetensors are loaded)")
    try:
        config = AutoConfig.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
    except (OSError, ValueError) as exc:
        raise BabylmError(
            f"{folder}/config.json: not a model config transformers knows ({_first_line(exc)})"
        ) from None
    architecture = (config.architectures or [""])[0]
    found = "masked" if architecture.endswith("ForMaskedLM") else "causal"
    if kind is not None and found != kind:
        raise BabylmError(f"{folder}: is a {found} LM; {needed_for} needs a {kind} LM")
    auto = AutoModelForMaskedLM if found == "masked" else AutoModelForCausalLM
    auto = AutoModel if body else auto
    dtype = "auto" if torch.cuda.is_available() else torch.float32  # half precision is slow on CPU
    try:
        model = auto.from_pretrained(
            str(folder),
            use_safetensors=True,
            dtype=dtype,
            local_files_only=True,
            trust_remote_code=False,
        )
    except (OSError, ValueError) as exc:
        raise BabylmError(
            f"{folder}: does not load with the Auto classes ({_first_line(exc)})"
        ) from None
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model.eval(), found


def load_tokenizer(folder: Path) -> Any:
    """The model folder's own tokenizer (local files only); one line if it cannot be read."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
    except (OSError, ValueError) as exc:
        raise BabylmError(f"{folder}: cannot load its tokenizer ({_first_line(exc)})") from None

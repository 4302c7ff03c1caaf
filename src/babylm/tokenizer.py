"""Tokenizer stage: train a byte-level BPE with ``tokenizers`` and save it for ``transformers``.

Two styles:

* ``standard``: byte-level BPE (or a byte-level Unigram LM, ``tokenizer.model``), no
  normalisation unless ``tokenizer.lowercase`` (so decode(encode(x)) == x for any text), all
  256 bytes in the base alphabet, specials ``<pad>``=0 ``<s>``=1 ``</s>``=2 (and ``<mask>``=3
  with ``tokenizer.mask_token``), and ``<s>`` prepended to every encoded text, so a language
  model scores the first word of a sentence too.
* ``reference``: the reference card's tokenizer, kept for reproduction: NFD + lowercase +
  strip, ``vocab_size`` BPE entries learnt from the corpus alone, then ``<|endoftext|>``
  (BOS and EOS) and ``<pad>`` appended as extra ids.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer, UnigramTrainer
from transformers import PreTrainedTokenizerFast

from babylm.config import MASK_TOKEN, STANDARD_SPECIAL_TOKENS, TokenizerConfig

PAD, BOS, EOS = STANDARD_SPECIAL_TOKENS
REFERENCE_EOT, REFERENCE_PAD = "<|endoftext|>", "<pad>"


def train_tokenizer(
    cfg: TokenizerConfig, train_file: Path, model_max_length: int
) -> PreTrainedTokenizerFast:
    """Train BPE on ``train_file`` and wrap it as a ``PreTrainedTokenizerFast``."""
    if cfg.style == "reference":
        return _train_reference(cfg, train_file, model_max_length)
    return _train_standard(cfg, train_file, model_max_length)


def _show_progress() -> bool:
    return sys.stderr.isatty()


def _train_standard(
    cfg: TokenizerConfig, train_file: Path, model_max_length: int
) -> PreTrainedTokenizerFast:
    specials = [PAD, BOS, EOS, MASK_TOKEN] if cfg.mask_token else [PAD, BOS, EOS]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer: BpeTrainer | UnigramTrainer
    if cfg.model == "unigram":
        tok = Tokenizer(models.Unigram())
        trainer = UnigramTrainer(
            vocab_size=cfg.vocab_size,
            special_tokens=specials,
            initial_alphabet=alphabet,
            show_progress=_show_progress(),
        )
    else:
        tok = Tokenizer(models.BPE())
        trainer = BpeTrainer(
            vocab_size=cfg.vocab_size,
            min_frequency=cfg.min_frequency,
            special_tokens=specials,
            initial_alphabet=alphabet,
            show_progress=_show_progress(),
        )
    if cfg.lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train([str(train_file)], trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS}:1 $B:1",
        special_tokens=[(BOS, bos_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        mask_token=MASK_TOKEN if cfg.mask_token else None,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )


def _train_reference(
    cfg: TokenizerConfig, train_file: Path, model_max_length: int
) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFD(), normalizers.Lowercase(), normalizers.Strip()]
    )
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = BpeTrainer(vocab_size=cfg.vocab_size, show_progress=_show_progress())
    tok.train([str(train_file)], trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=REFERENCE_EOT,
        eos_token=REFERENCE_EOT,
        pad_token=REFERENCE_PAD,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )


def save_tokenizer(tok: PreTrainedTokenizerFast, out_dir: Path) -> None:
    """``save_pretrained``, naming the class ``PreTrainedTokenizerFast`` in tokenizer_config.json.

    transformers 5 writes its new class name (``TokenizersBackend``), which transformers 4
    cannot load; the old name loads the same tokenizer in both.
    """
    tok.save_pretrained(str(out_dir))
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")


def tokenizer_stats(tok: PreTrainedTokenizerFast, text: str) -> dict[str, Any]:
    """Compression on ``text``: UTF-8 bytes per token and tokens per whitespace word."""
    lines = [line for line in text.split("\n") if line.strip()]
    encoded = tok(lines, add_special_tokens=False)["input_ids"]
    n_tokens = sum(len(ids) for ids in encoded)
    n_bytes = sum(len(line.encode("utf-8")) for line in lines)
    n_words = sum(len(line.split()) for line in lines)
    return {
        "vocab_size": len(tok),
        "tokens": n_tokens,
        "bytes_per_token": round(n_bytes / max(n_tokens, 1), 4),
        "tokens_per_word": round(n_tokens / max(n_words, 1), 4),
    }

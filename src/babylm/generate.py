"""Sample text from any local causal LM folder with ``model.generate``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babylm.errors import BabylmError
from babylm.model import load_model, load_tokenizer
from babylm.runfolder import model_folder


@dataclass
class Sampling:
    """``temperature`` 0 means greedy decoding (then top-k / top-p do not apply)."""

    max_new_tokens: int = 50
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    seed: int = 0
    num_samples: int = 1

    def check(self) -> None:
        if self.max_new_tokens < 1 or self.num_samples < 1:
            raise BabylmError("--max-new-tokens and --num-samples must be at least 1")
        if self.temperature < 0 or self.top_k < 0 or not 0 < self.top_p <= 1:
            raise BabylmError("--temperature and --top-k must be >= 0, --top-p in (0, 1]")
        if self.temperature == 0 and self.num_samples > 1:
            raise BabylmError("--temperature 0 is greedy: it gives one sample, not several")


def generate(target: Path, prompt: str, sampling: Sampling) -> list[str]:
    """Continuations of ``prompt`` (prompt included), one per sample, reproducible by seed."""
    import torch
    from transformers import set_seed

    sampling.check()
    folder = model_folder(target)
    model, _ = load_model(folder, kind="causal")
    tok = load_tokenizer(folder)
    # The tokenizer's own template adds <s> where the model was trained with it.
    inputs = tok(prompt, return_tensors="pt").to(model.device)
    if inputs["input_ids"].shape[1] == 0:
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        if start is None:
            raise BabylmError("an empty prompt needs a tokenizer with a BOS or EOS token")
        ids = torch.tensor([[start]], device=model.device)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    set_seed(sampling.seed)
    greedy = sampling.temperature == 0
    options = (
        {}
        if greedy
        else {
            "temperature": sampling.temperature,
            "top_k": sampling.top_k,
            "top_p": sampling.top_p,
        }
    )
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=sampling.max_new_tokens,
            do_sample=not greedy,
            num_return_sequences=sampling.num_samples,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            **options,
        )
    return tok.batch_decode(out, skip_special_tokens=True)

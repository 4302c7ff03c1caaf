"""Sentence log-probabilities from a causal LM, batched, for minimal-pair evaluation.

Two protocols:

* ``standard``: log P(sentence) is the sum of the log-probabilities of all its tokens given a
  BOS prefix (the tokenizer's BOS token; without one, its EOS, as lm-eval-harness does), so the
  first word is scored too.
* ``reference``: the reference project's scorer: no BOS, the first token unscored, at most 127
  tokens.

Either way the first id of each encoded sequence is context only and every later id is scored.
Sentences are deduplicated, sorted by length and batched with right padding, and the
log-softmax is computed in fp32 whatever the model's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from babylm.errors import BabylmError

PROTOCOLS = ("standard", "reference")
REFERENCE_MAX_TOKENS = 127


def encode_for_scoring(
    tok: PreTrainedTokenizerBase,
    sentences: Sequence[str],
    protocol: str = "standard",
    leading_space: bool = False,
) -> list[list[int]]:
    """Token ids to score: the first id is context, the rest are scored.

    ``leading_space`` scores " " + sentence, as lm-eval-harness's own blimp tasks do (their
    default ``target_delimiter``); off by default.
    """
    texts = [" " + s if leading_space else s for s in sentences]
    encoded = tok(list(texts), add_special_tokens=False)["input_ids"]
    if protocol == "reference":
        return [ids[:REFERENCE_MAX_TOKENS] for ids in encoded]
    if protocol != "standard":
        raise BabylmError(f"--protocol: {protocol!r} is not one of {PROTOCOLS}")
    prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if prefix is None:
        raise BabylmError("the tokenizer has neither a BOS nor an EOS token to start sentences")
    return [[prefix, *ids] for ids in encoded]


@torch.inference_mode()
def score_sequences(
    model: PreTrainedModel,
    sequences: Sequence[Sequence[int]],
    batch_size: int = 64,
    pad_id: int = 0,
    progress: bool = True,
) -> list[float]:
    """Sum of log P(id_t | ids_<t) for t >= 1, per sequence (0.0 for one id or fewer)."""
    unique = sorted({tuple(s) for s in sequences if len(s) > 1}, key=len, reverse=True)
    scores: dict[tuple[int, ...], float] = {}
    device = next(model.parameters()).device
    bar = tqdm(total=len(unique), desc="scoring", unit="sent", disable=not progress)
    for start in range(0, len(unique), batch_size):
        batch = unique[start : start + batch_size]
        width = len(batch[0])
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        ids, mask = ids.to(device), mask.to(device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        picked = logprobs.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        totals = (picked * mask[:, 1:]).sum(dim=1).tolist()
        scores.update(zip(batch, totals, strict=True))
        bar.update(len(batch))
    bar.close()
    return [scores.get(tuple(s), 0.0) for s in sequences]

"""The suite's choice tasks under the official ``mlm`` and ``mntp`` backends.

``mlm`` (a masked LM, ``*ForMaskedLM``): each token of the completion (a token whose character
span ends after the completion starts; special tokens have none) is masked in turn, the rest of
the sentence left as it is, and its log-probability read at its own position; a candidate's
score is their sum at temperature 1. ``mntp`` (masked next-token prediction, GPT-BERT's): the
same masked copies, each token's log-probability read one position earlier, the first token
never scored unless the tokenizer has a CLS or BOS token. For a model with causal attention
(our hybrid runs, ``LlamaForCausalLM``) masking a token cannot change an earlier position, so
``mntp`` gives the causal next-token scores of the completion; for a bidirectional masked LM
every position sees the mask.

Exact to the official code up to float rounding: its copies are padded to the longest of 64
items' copies, ours to the longest of each 64-row batch after sorting by length (fewer padded
positions; the padded ones are masked out of attention either way).
"""

from __future__ import annotations

from typing import Any

import torch

from babylm.config import EvalConfig
from babylm.evaluation.suite_tasks import Item


def masked_copies(
    tok: Any, sentence: str, completion: str, ids: list[int], offsets: list, next_token: bool
) -> list[tuple[list[int], int, int]]:
    """(masked ids, position to read, target id) of each scored token of one candidate."""
    start = len(sentence) - len(completion)
    prepend = tok.cls_token_id is not None or tok.bos_token_id is not None
    out = []
    for i, (_, end) in enumerate(offsets):
        if end > start and (not next_token or i != 0 or prepend):
            copy = list(ids)
            copy[i] = tok.mask_token_id
            out.append((copy, i - 1 if next_token else i, ids[i]))
    return out


@torch.inference_mode()
def score_items_masked(
    model: Any, tok: Any, items: list[Item], ev: EvalConfig, next_token: bool
) -> list[list[float]]:
    """Each item's candidate scores (see the module docstring)."""
    texts = [s for item in items for s in item.sentences]
    enc = tok(texts, return_offsets_mapping=True)
    rows: list[tuple[list[int], int, int, int]] = []  # (ids, position, target, candidate)
    pairs = (
        (s, c) for item in items for s, c in zip(item.sentences, item.completions, strict=True)
    )
    for k, ((sentence, completion), ids, offsets) in enumerate(
        zip(pairs, enc["input_ids"], enc["offset_mapping"], strict=False)
    ):
        for copy, position, target in masked_copies(
            tok, sentence, completion, ids, offsets, next_token
        ):
            rows.append((copy, position, target, k))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.cls_token_id
    device = next(model.parameters()).device
    logprob = torch.zeros(len(rows), dtype=torch.float32)
    order = sorted(range(len(rows)), key=lambda r: len(rows[r][0]))
    for start in range(0, len(order), ev.batch_size):
        chunk = order[start : start + ev.batch_size]
        width = max(len(rows[r][0]) for r in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, r in enumerate(chunk):
            ids[j, : len(rows[r][0])] = torch.tensor(rows[r][0])
            mask[j, : len(rows[r][0])] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        at = torch.tensor([rows[r][1] for r in chunk], device=device)
        picked = logits[torch.arange(len(chunk), device=device), at].float().log_softmax(-1)
        targets = torch.tensor([rows[r][2] for r in chunk], device=device)
        logprob[chunk] = picked.gather(-1, targets[:, None])[:, 0].cpu()
    totals = [0.0] * len(texts)
    by_candidate: dict[int, list[int]] = {}
    for r, row in enumerate(rows):
        by_candidate.setdefault(row[3], []).append(r)
    for k, members in by_candidate.items():
        totals[k] = torch.sum(logprob[members]).item()  # fp32, in token order, as officially
    out, at_item = [], 0
    for item in items:
        out.append(totals[at_item : at_item + len(item.sentences)])
        at_item += len(item.sentences)
    return out

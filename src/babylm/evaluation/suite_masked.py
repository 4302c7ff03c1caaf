"""The suite under the official ``mlm`` and ``mntp`` backends.

Choice tasks. ``mlm`` (a masked LM, ``*ForMaskedLM``): each token of the completion (a token
whose character span ends after the completion starts; special tokens have none) is masked in
turn, the rest of the sentence left as it is, and its log-probability read at its own position;
a candidate's score is their sum at temperature 1. ``mntp`` (masked next-token prediction,
GPT-BERT's): the same masked copies, each token's log-probability read one position earlier,
the first token never scored unless the tokenizer has a CLS or BOS token. For a model with
causal attention (our hybrid runs, ``LlamaForCausalLM``) masking a token cannot change an
earlier position, so ``mntp`` gives the causal next-token scores of the completion; for a
bidirectional masked LM every position sees the mask.

Reading times. The official reading code asks the same questions under every backend
(``suite.reading_steps``: the word's first token after the item, each later token after the
re-encoded text so far) and gives a masked LM the text followed by three mask tokens, encoded
with the tokenizer's special tokens: ``mlm`` reads the first mask's position, ``mntp`` the
position before it (the last token of the text). The first mask is counted from the end, as
the official code counts it: the last three tokens, or the three before a final special token.

Exact to the official code up to float rounding: its choice-task copies are padded to the
longest of 64 items' copies and its reading texts run one at a time; ours are padded to the
longest of each batch after sorting by length (the padded positions are masked out of
attention either way), and a log-softmax in fp32 stands for its fp32 softmax, logged after
the product over a word's tokens in float64.
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


MASKS_APPENDED = 3
"""The official reading code's ``--number_of_mask_tokens_to_append`` (its default)."""


def masked_logprobs(
    model: Any, tok: Any, rows: list[tuple[list[int], int, int]], batch_size: int
) -> torch.Tensor:
    """fp32 log P(target) at the given position of each (ids, position, target) row, in
    batches of rows of similar length (padded on the right, the padding out of attention)."""
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.cls_token_id
    pad = pad if pad is not None else 0
    device = next(model.parameters()).device
    logprob = torch.zeros(len(rows), dtype=torch.float32)
    order = sorted(range(len(rows)), key=lambda r: len(rows[r][0]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
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
    return logprob


def score_items_masked(
    model: Any, tok: Any, items: list[Item], ev: EvalConfig, next_token: bool
) -> list[list[float]]:
    """Each item's candidate scores (see the module docstring)."""
    texts = [s for item in items for s in item.sentences]
    enc = tok(texts, return_offsets_mapping=True)
    rows: list[tuple[list[int], int, int]] = []  # (ids, position, target)
    owner: list[int] = []  # each row's candidate
    pairs = (
        (s, c) for item in items for s, c in zip(item.sentences, item.completions, strict=True)
    )
    for k, ((sentence, completion), ids, offsets) in enumerate(
        zip(pairs, enc["input_ids"], enc["offset_mapping"], strict=False)
    ):
        for row in masked_copies(tok, sentence, completion, ids, offsets, next_token):
            rows.append(row)
            owner.append(k)
    logprob = masked_logprobs(model, tok, rows, ev.batch_size)
    totals = [0.0] * len(texts)
    by_candidate: dict[int, list[int]] = {}
    for r, k in enumerate(owner):
        by_candidate.setdefault(k, []).append(r)
    for k, members in by_candidate.items():
        totals[k] = torch.sum(logprob[members]).item()  # fp32, in token order, as officially
    out, at_item = [], 0
    for item in items:
        out.append(totals[at_item : at_item + len(item.sentences)])
        at_item += len(item.sentences)
    return out


def reading_row(tok: Any, text: str, target: int, next_token: bool) -> tuple[list[int], int, int]:
    """(ids, position, target) of one reading step: the text and three masks, read at the
    first mask (mlm) or the position before it (mntp)."""
    ids = tok(text + tok.mask_token * MASKS_APPENDED)["input_ids"]
    first_mask = len(ids) - MASKS_APPENDED - (ids[-1] != tok.mask_token_id)
    return ids, first_mask - 1 if next_token else first_mask, target


def reading_logprobs(
    model: Any, tok: Any, steps: list[tuple[str, int]], ev: EvalConfig, next_token: bool
) -> list[float]:
    """log P(next id | text) of each reading step (``suite.reading_steps``)."""
    rows = [reading_row(tok, text, target, next_token) for text, target in steps]
    return masked_logprobs(model, tok, rows, ev.batch_size).tolist()

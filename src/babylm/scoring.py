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

import inspect
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
        ids, mask = (t.to(device) for t in _pad(batch, pad_id))
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        picked = logprobs.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        totals = (picked * mask[:, 1:]).sum(dim=1).tolist()
        scores.update(zip(batch, totals, strict=True))
        bar.update(len(batch))
    bar.close()
    return [scores.get(tuple(s), 0.0) for s in sequences]


def _shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@torch.inference_mode()
def score_pairs(
    model: PreTrainedModel,
    goods: Sequence[Sequence[int]],
    bads: Sequence[Sequence[int]],
    batch_size: int = 64,
    pad_id: int = 0,
    progress: bool = True,
) -> tuple[list[float], list[float]]:
    """Like :func:`score_sequences` for both sentences of each pair, computing their shared
    prefix once: the good sentence runs in full with a KV cache, and the bad one runs only
    from where it differs, on the good one's cached prefix (RoPE positions continue from the
    prefix; the good tokens after it are masked out).
    """
    pairs = sorted(
        {(tuple(g), tuple(b)) for g, b in zip(goods, bads, strict=True)},
        key=lambda p: len(p[0]),
        reverse=True,
    )
    device = next(model.parameters()).device
    scores: dict[tuple, tuple[float, float]] = {}
    bar = tqdm(total=len(pairs), desc="scoring", unit="pair", disable=not progress)
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        # The bad sentence keeps at least its last token to run, so its continuation is not empty.
        shared = [min(_shared_prefix(g, b), len(b) - 1) for g, b in batch]
        g_ids, g_mask = _pad([g for g, _ in batch], pad_id)
        c_ids, c_mask = _pad([b[n:] for (_, b), n in zip(batch, shared, strict=True)], pad_id)
        g_ids, g_mask, c_ids, c_mask = (t.to(device) for t in (g_ids, g_mask, c_ids, c_mask))
        out = model(input_ids=g_ids, attention_mask=g_mask, use_cache=True)
        g_logp = torch.log_softmax(out.logits[:, :-1].float(), dim=-1)
        g_picked = g_logp.gather(-1, g_ids[:, 1:].unsqueeze(-1)).squeeze(-1) * g_mask[:, 1:]
        width = g_ids.shape[1]
        prefix = torch.tensor(shared, device=device)
        keep = (torch.arange(width, device=device)[None, :] < prefix[:, None]).long()
        positions = prefix[:, None] + torch.arange(c_ids.shape[1], device=device)[None, :]
        cont = model(
            input_ids=c_ids,
            attention_mask=torch.cat([keep, c_mask], dim=1),
            position_ids=positions,
            use_cache=True,
            **_cache_kwarg(model, out),
        )
        c_logp = torch.log_softmax(cont.logits[:, :-1].float(), dim=-1)
        c_picked = c_logp.gather(-1, c_ids[:, 1:].unsqueeze(-1)).squeeze(-1) * c_mask[:, 1:]
        good_totals = g_picked.sum(dim=1).tolist()
        cont_totals = c_picked.sum(dim=1).tolist()
        for row, ((g, b), n) in enumerate(zip(batch, shared, strict=True)):
            if g == b:  # identical token sequences tie exactly, not up to float noise
                scores[(g, b)] = (good_totals[row], good_totals[row])
                continue
            bad_total = cont_totals[row]
            if n >= 1:  # tokens 1..n-1 are the good one's; token n is predicted from position n-1
                bad_total += g_picked[row, : n - 1].sum().item()
                bad_total += g_logp[row, n - 1, b[n]].item()
            scores[(g, b)] = (good_totals[row], bad_total)
        bar.update(len(batch))
    bar.close()
    result = [scores[(tuple(g), tuple(b))] for g, b in zip(goods, bads, strict=True)]
    return [g for g, _ in result], [b for _, b in result]


def _cache_kwarg(model: PreTrainedModel, out: object) -> dict[str, object]:
    """transformers 5.x renamed ``past_key_values`` to ``cache`` (argument and output)."""
    if "cache" in inspect.signature(model.forward).parameters:
        return {"cache": out.cache}
    return {"past_key_values": out.past_key_values}


def _pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and their attention mask."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


MLM_VARIANTS = ("within_word_l2r", "original")


@torch.inference_mode()
def score_masked(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    sentences: Sequence[str],
    variant: str = "within_word_l2r",
    batch_size: int = 64,
    progress: bool = True,
) -> list[float]:
    """Pseudo-log-likelihood of each sentence under a masked LM (Salazar et al., 2020).

    Each token (specials excluded) is masked in turn and its log-probability read at the mask.
    ``within_word_l2r`` (Kauf & Ivanova, 2023) also masks the later tokens of the same word,
    so a word split into pieces is not scored from its own remaining pieces.
    """
    if variant not in MLM_VARIANTS:
        raise BabylmError(f"--mlm-variant: {variant!r} is not one of {MLM_VARIANTS}")
    if tok.mask_token_id is None:
        raise BabylmError("the tokenizer has no mask token, so pseudo-log-likelihood is undefined")
    enc = tok(list(sentences), add_special_tokens=True)
    specials = {tok.pad_token_id, tok.cls_token_id, tok.sep_token_id}
    rows: list[tuple[int, list[int], int, int]] = []  # (sentence, masked ids, position, target)
    for index, ids in enumerate(enc["input_ids"]):
        words = enc.word_ids(index)
        targets = [j for j, t in enumerate(ids) if t not in specials]
        for j in targets:
            masked = list(ids)
            hide = [j]
            if variant == "within_word_l2r" and words[j] is not None:
                hide += [k for k in range(j + 1, targets[-1] + 1) if words[k] == words[j]]
            for k in hide:
                masked[k] = tok.mask_token_id
            rows.append((index, masked, j, ids[j]))
    rows.sort(key=lambda r: len(r[1]), reverse=True)
    totals = [0.0] * len(sentences)
    device = next(model.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for start in tqdm(range(0, len(rows), batch_size), desc="PLL", disable=not progress):
        batch = rows[start : start + batch_size]
        ids, mask = _pad([r[1] for r in batch], pad)
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        at = torch.tensor([r[2] for r in batch], device=device)
        picked = logits[torch.arange(len(batch), device=device), at].float().log_softmax(-1)
        target = torch.tensor([r[3] for r in batch], device=device)
        for (index, *_), value in zip(
            batch, picked.gather(1, target[:, None])[:, 0].tolist(), strict=True
        ):
            totals[index] += value
    return totals

"""Sentence log-probabilities from a causal LM, batched, for minimal-pair evaluation.

Two protocols:

* ``standard``: log P(sentence) is the sum of the log-probabilities of all its tokens given a
  BOS prefix (the tokenizer's BOS token; without one, its EOS, as lm-eval-harness does), so the
  first word is scored too.
* ``reference``: the reference project's scorer: no BOS, the first token unscored, at most 127
  tokens.
* ``babylm``: the official BabyLM 2025 pipeline's: the tokenizer's own special tokens (ours add
  BOS, so this equals ``standard`` but for the tie rule), the first token unscored.

Either way the first id of each encoded sequence is context only and every later id is scored
(the scorers also take ``starts``: score sequence i from id ``starts[i]`` on, for completions).
Sentences are deduplicated, sorted by length and batched with right padding, and the
log-softmax is computed in fp32 whatever the model's dtype.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import sys
import warnings
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from babylm.errors import BabylmError
from babylm.evaluation.prefix_tree import ancestor_mask, pack_prefix_trees

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
    if protocol == "babylm":
        return [list(ids) for ids in tok(list(texts))["input_ids"]]
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:  # the Rust tokenizer directly: half the time over BLiMP's 134k
        encoded = [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
    else:
        encoded = tok(list(texts), add_special_tokens=False)["input_ids"]
    if protocol == "reference":
        return [ids[:REFERENCE_MAX_TOKENS] for ids in encoded]
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
    starts: Sequence[int] | None = None,
) -> list[float]:
    """Sum of log P(id_t | ids_<t) for t >= ``starts[i]`` (default 1), per sequence (0.0 for
    one id or fewer)."""
    starts = starts or [1] * len(sequences)
    keys = [(tuple(s), start) for s, start in zip(sequences, starts, strict=True)]
    unique = sorted({k for k in keys if len(k[0]) > 1}, key=lambda k: len(k[0]), reverse=True)
    scores: dict[tuple[tuple[int, ...], int], float] = {}
    device = next(model.parameters()).device
    bar = tqdm(total=len(unique), desc="scoring", unit="sent", disable=not progress)
    for start in range(0, len(unique), batch_size):
        batch = unique[start : start + batch_size]
        ids, mask = (t.to(device) for t in _pad([seq for seq, _ in batch], pad_id))
        first = torch.tensor([scored_from for _, scored_from in batch], device=device)
        scored = mask * (torch.arange(ids.shape[1], device=device) >= first[:, None])
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        picked = logprobs.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        totals = (picked * scored[:, 1:]).sum(dim=1).tolist()
        scores.update(zip(batch, totals, strict=True))
        bar.update(len(batch))
    bar.close()
    return [scores.get(k, 0.0) for k in keys]


def score_tree(
    model: PreTrainedModel,
    sequences: Sequence[Sequence[int]],
    tokens_per_batch: int = 4096,
    width: int = 128,
    pad_id: int = 0,
    progress: bool = True,
    workers: int | None = None,
    starts: Sequence[int] | None = None,
) -> list[float]:
    """:func:`score_sequences`, computing each distinct prefix once (see :mod:`prefix_tree`).

    Rows of a prefix tree run through the model body with position ids = depth and an
    ancestor mask; the LM head and the fp32 log-normaliser run once per node that some
    sequence scores (none for context before every ``starts``). A sequence's score is the sum
    of its scored tokens' log-probabilities, summed in fp64 along its path.

    On a CPU, ``workers`` single-threaded processes (default: one per torch thread) share the
    batches: on 2 cores that is 1.2x faster than one process with 2 threads, because the
    small matrix products and the elementwise work scale badly across threads.
    """
    if not _tree_matches_plain(model, sequences, pad_id):
        warnings.warn(
            f"{type(model).__name__}: the prefix-tree scorer does not reproduce this model's"
            " own logits (a custom head or attention?); using the plain scorer",
            stacklevel=2,
        )
        return score_sequences(model, sequences, pad_id=pad_id, progress=progress, starts=starts)
    starts = list(starts or [1] * len(sequences))
    rows = pack_prefix_trees(sequences, width, starts)
    device = next(model.parameters()).device
    per_batch = max(1, tokens_per_batch // max([1, *(len(r.ids) for r in rows)]))
    batches = [rows[i : i + per_batch] for i in range(0, len(rows), per_batch)]
    if workers is None:
        workers = torch.get_num_threads() if device.type == "cpu" else 1
    workers = min(workers, len(batches))
    if not sys.platform.startswith("linux") or device.type != "cpu":
        workers = 1  # forking a process that holds torch is only safe on Linux
    _keep_freed_memory()
    bar = tqdm(
        total=sum(len(r.ends) for r in rows), desc="scoring", unit="sent", disable=not progress
    )
    by_index: dict[int, float] = {}
    _share(model, pad_id)
    try:
        if workers > 1:  # forked workers see the model through copy-on-write memory
            with mp.get_context("fork").Pool(
                workers, initializer=torch.set_num_threads, initargs=(1,)
            ) as pool:
                for scores in pool.imap_unordered(_score_batch, batches):
                    by_index.update(scores)
                    bar.update(len(scores))
        else:
            for batch in batches:
                scores = _score_batch(batch)
                by_index.update(scores)
                bar.update(len(scores))
    finally:
        _SHARED.clear()
        bar.close()
    by_key = {(tuple(sequences[i]), starts[i]): v for i, v in by_index.items()}
    return [by_key.get((tuple(s), start), 0.0) for s, start in zip(sequences, starts, strict=True)]


def _tree_matches_plain(
    model: PreTrainedModel, sequences: Sequence[Sequence[int]], pad_id: int
) -> bool:
    """Score a few sentences both ways first: the tree scorer calls the model's body and head
    itself, which is only right for models whose logits are ``head(body(x))`` and whose
    attention honours a custom 4D mask (Llama, GPT-2, OPT, ...; not, e.g., soft-capped heads).
    """
    sample = [s for s in sequences if len(s) > 1][:8]
    if not sample:
        return True
    plain = score_sequences(model, sample, pad_id=pad_id, progress=False)
    _share(model, pad_id)
    try:
        scored = _score_batch(pack_prefix_trees(sample, 128))
    finally:
        _SHARED.clear()
    return all(abs(v - plain[i]) <= 1e-3 * (1 + abs(plain[i])) for i, v in scored.items())


_SHARED: dict[str, tuple] = {}  # what forked workers inherit: (body, head, pad id, device)


def _share(model: PreTrainedModel, pad_id: int) -> None:
    device = next(model.parameters()).device
    _SHARED["model"] = (model.base_model, model.get_output_embeddings(), pad_id, device)


@torch.inference_mode()
def _score_batch(batch: list) -> dict[int, float]:
    body, head, pad_id, device = _SHARED["model"]
    return _score_rows(body, head, batch, pad_id, device)


def _keep_freed_memory() -> None:
    """Stop glibc from returning each freed logits buffer to the OS (mmap threshold, trim).

    Otherwise every batch maps its tens of MB afresh: 28M page faults and 15% of the time
    over BLiMP. A process-wide setting; a no-op where glibc's ``mallopt`` is missing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: 1 GiB
        libc.mallopt(-1, 1 << 31)  # M_TRIM_THRESHOLD: 2 GiB
    except (OSError, AttributeError):
        pass


def _score_rows(
    body: torch.nn.Module, head: torch.nn.Module, batch: list, pad_id: int, device: torch.device
) -> dict[int, float]:
    w = max(len(r.ids) for r in batch)
    ids = torch.full((len(batch), w), pad_id, dtype=torch.long)
    positions = torch.zeros((len(batch), w), dtype=torch.long)
    parents = torch.full((len(batch), w), -1, dtype=torch.long)
    needed = torch.zeros((len(batch), w), dtype=torch.bool)
    for r, row in enumerate(batch):
        n = len(row.ids)
        ids[r, :n], positions[r, :n] = torch.tensor(row.ids), torch.tensor(row.depths)
        parents[r, :n] = torch.tensor(row.parents)
        needed[r, :n] = torch.tensor(row.needed)
    mask = torch.stack([ancestor_mask(row, w) for row in batch])
    hidden = body(
        input_ids=ids.to(device),
        attention_mask=mask[:, None].to(device),
        position_ids=positions.to(device),
        use_cache=False,
    ).last_hidden_state
    # Every log-probability wanted is (context node, next token): first each needed in-row node
    # after its parent, then each sentence's leaf token after its last node.
    rr, cc = torch.nonzero(needed, as_tuple=True)
    ends = [
        (i, r, node, leaf, cut) for r, row in enumerate(batch) for i, node, leaf, cut in row.ends
    ]
    leaves = [(r * w + node, leaf) for _, r, node, leaf, _ in ends if leaf >= 0]
    context = torch.cat(
        [rr * w + parents[rr, cc], torch.tensor([c for c, _ in leaves], dtype=torch.long)]
    )
    target = torch.cat([ids[rr, cc], torch.tensor([t for _, t in leaves], dtype=torch.long)])
    logp = _next_token_logprobs(hidden.reshape(len(batch) * w, -1), head, context, target)
    node_logp = torch.zeros((len(batch), w), dtype=torch.float64)
    node_logp[rr, cc] = logp[: len(rr)]
    totals = torch.bmm(mask.double(), node_logp[:, :, None])[:, :, 0]  # sum over the path
    leaf_logp = iter(logp[len(rr) :].tolist())
    r, node, cut = (torch.tensor([e[k] for e in ends], dtype=torch.long) for k in (1, 2, 4))
    paths = (totals[r, node] - totals[r, cut]).tolist()
    return {
        index: path + (next(leaf_logp) if leaf >= 0 else 0.0)
        for (index, _, _, leaf, _), path in zip(ends, paths, strict=True)
    }


def _next_token_logprobs(
    hidden: torch.Tensor, head: torch.nn.Module, context: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """fp64 log P(target | context) for flat context positions; the head runs once per context."""
    used, slot = torch.unique(context, return_inverse=True)
    out = torch.empty(len(context), dtype=torch.float64)
    order = torch.argsort(slot)
    bounds = torch.searchsorted(slot[order], torch.arange(0, len(used) + _HEAD_ROWS, _HEAD_ROWS))
    for k, lo in enumerate(range(0, len(used), _HEAD_ROWS)):
        logits = head(hidden[used[lo : lo + _HEAD_ROWS].to(hidden.device)]).float()
        # logsumexp over a few rows at a time stays in cache: twice as fast as all at once.
        norm = torch.cat([torch.logsumexp(part, dim=-1) for part in logits.split(32)])
        picks = order[bounds[k] : bounds[k + 1]]
        local = (slot[picks] - lo).to(logits.device)
        value = logits[local, target[picks].to(logits.device)] - norm[local]
        out[picks] = value.double().cpu()
    return out


_HEAD_ROWS = 1024  # LM-head rows at once: 1024 x 16k vocab x 4 bytes = 64 MB of logits


def _pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and their attention mask."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


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

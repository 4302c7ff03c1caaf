"""Turn the corpus text into training examples with ``datasets`` (cached by fingerprint).

Three modes (``train.packing``):

* ``reference``: one line per example, cut at ``seq_len`` tokens with the overflow kept as
  further examples, padded to the longest example of each 1,000-line map batch (in practice
  ``seq_len``): the reference recipe, kept for comparison.
* ``packed``: lines joined with ``</s>`` into one stream cut into ``seq_len`` blocks
  (the ``group_texts`` of Hugging Face's ``run_clm.py``): no padding at all.
* ``sentence``: every line becomes ``<s> line </s>`` and whole lines are packed greedily into
  blocks of at most ``seq_len`` tokens, so every block starts with ``<s>`` at a line start,
  the way BLiMP sentences are scored. Only a line longer than a block continues, without
  ``<s>``, in the next one. Blocks are padded per batch.

With ``count_words`` every training example also carries ``words``: the whitespace-separated
words of the lines that start in it (a line cut over several examples counts once, where it
starts; a line whose start is dropped, ``packed``'s tail, never counts), so the words of the
lines in a batch are known as it is trained (``babylm.word_checkpoints``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict, load_dataset
from transformers import PreTrainedTokenizerFast

from babylm.errors import BabylmError

MAP_BATCH = 1000
WORDS = "words"
"""The column (and batch key) of the words of the lines that start in an example."""


def load_text(train_file: Path, dev_file: Path, cache_dir: Path) -> DatasetDict:
    """The corpus as a ``text`` dataset, empty lines removed, cached under ``cache_dir``."""
    raw = load_dataset(
        "text",
        data_files={"train": str(train_file), "validation": str(dev_file)},
        cache_dir=str(cache_dir),
    )
    return raw.filter(lambda batch: [bool(t.strip()) for t in batch["text"]], batched=True)


def build_examples(
    raw: DatasetDict,
    tok: PreTrainedTokenizerFast,
    mode: str,
    seq_len: int,
    count_words: bool = False,
) -> DatasetDict:
    """Tokenize and group every split for ``mode``; each example has ``input_ids``, and with
    ``count_words`` the training examples ``words`` too (see the module docstring)."""
    fns = {"reference": _reference, "packed": _packed, "sentence": _sentence,
           "isolated": _isolated}  # fmt: skip
    if mode not in fns:
        raise BabylmError(f"train.packing: unknown mode {mode!r}")
    fn = fns[mode]
    kwargs: dict[str, Any] = {"tok": tok, "seq_len": seq_len}
    if count_words:  # only then: the examples (and their cache) stay as they were otherwise
        kwargs["count_words"] = True
    out = raw.map(
        fn,
        batched=True,
        batch_size=MAP_BATCH,
        fn_kwargs=kwargs,
        remove_columns=raw["train"].column_names,
        desc=f"tokenize + group ({mode}, {seq_len})",
    )
    for split, ds in out.items():
        if len(ds) == 0:
            raise BabylmError(
                f"train.seq_len: the {split} text gives no {seq_len}-token examples;"
                " use more text or a shorter train.seq_len"
            )
    for split in out:
        if split != "train" and WORDS in out[split].column_names:
            out[split] = out[split].remove_columns(WORDS)  # only training words are counted
    return out


def _line_words(batch: dict[str, list]) -> list[int]:
    return [len(text.split()) for text in batch["text"]]


def _reference(
    batch: dict[str, list], tok: PreTrainedTokenizerFast, seq_len: int, count_words: bool = False
) -> dict:
    # As the reference did: padding=True inside the batched map pads every example to the
    # longest of its 1,000-line map batch, which is almost always seq_len.
    enc = tok(
        batch["text"],
        truncation=True,
        max_length=seq_len,
        return_overflowing_tokens=True,
        padding=True,
    )
    keep = [i for i, mask in enumerate(enc["attention_mask"]) if any(mask)]
    out = {
        "input_ids": [enc["input_ids"][i] for i in keep],
        "attention_mask": [enc["attention_mask"][i] for i in keep],
    }
    if count_words:  # a line's words go with its first example, not with its overflow
        line_words, source = _line_words(batch), enc["overflow_to_sample_mapping"]
        first = {source[i]: i for i in reversed(keep)}
        out[WORDS] = [line_words[source[i]] if first[source[i]] == i else 0 for i in keep]
    return out


def _packed(
    batch: dict[str, list], tok: PreTrainedTokenizerFast, seq_len: int, count_words: bool = False
) -> dict:
    stream: list[int] = []
    starts: list[int] = []  # where each line starts in the stream
    for ids in tok(batch["text"], add_special_tokens=False, verbose=False)["input_ids"]:
        starts.append(len(stream))
        stream.extend(ids)
        stream.append(tok.eos_token_id)
    usable = len(stream) // seq_len * seq_len  # the tail of each map batch is dropped
    out: dict[str, list] = {
        "input_ids": [stream[i : i + seq_len] for i in range(0, usable, seq_len)]
    }
    if count_words:
        words = [0] * len(out["input_ids"])
        for start, n in zip(starts, _line_words(batch), strict=True):
            if start < usable:
                words[start // seq_len] += n
        out[WORDS] = words
    return out


def _sentence(
    batch: dict[str, list], tok: PreTrainedTokenizerFast, seq_len: int, count_words: bool = False
) -> dict:
    blocks, _, words = _line_blocks(batch, tok, seq_len)
    return {"input_ids": blocks} | ({WORDS: words} if count_words else {})


def _isolated(
    batch: dict[str, list], tok: PreTrainedTokenizerFast, seq_len: int, count_words: bool = False
) -> dict:
    blocks, positions, words = _line_blocks(batch, tok, seq_len)
    out = {"input_ids": blocks, "position_ids": positions}
    return out | ({WORDS: words} if count_words else {})


def _line_blocks(
    batch: dict[str, list], tok: PreTrainedTokenizerFast, seq_len: int
) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """``<s> line </s>`` packed greedily into blocks of at most ``seq_len`` tokens.

    Also returns each token's position within its piece of a line (0 at every ``<s>`` and at
    the start of a long line's continuation in the next block), and each block's words: those
    of the lines that start in it.
    """
    blocks: list[list[int]] = []
    positions: list[list[int]] = []
    words: list[int] = []
    current: list[int] = []
    current_pos: list[int] = []
    current_words = 0
    encoded = tok(batch["text"], add_special_tokens=False, verbose=False)["input_ids"]
    for ids, n in zip(encoded, _line_words(batch), strict=True):
        line = [tok.bos_token_id, *ids, tok.eos_token_id]
        for start in range(0, len(line), seq_len):
            piece = line[start : start + seq_len]
            if len(current) + len(piece) > seq_len:
                blocks.append(current)
                positions.append(current_pos)
                words.append(current_words)
                current, current_pos, current_words = [], [], 0
            current.extend(piece)
            current_pos.extend(range(len(piece)))
            current_words += n if start == 0 else 0
    if current:
        blocks.append(current)
        positions.append(current_pos)
        words.append(current_words)
    return blocks, positions, words


class IsolatedCollator:
    """Pads ``isolated`` examples into a batch whose lines cannot see each other.

    No attention mask is returned, on purpose: the restarting ``position_ids`` are what makes
    transformers mask attention per line. Padding gets its own restarting positions, so it is
    a separate (ignored) sequence too. Labels are -100 on padding and on every ``<s>``, so no
    token is trained to predict the start of the next, unrelated line.
    """

    def __init__(self, pad_token_id: int, bos_token_id: int) -> None:
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        pos = torch.arange(width).repeat(len(features), 1)
        labels = torch.full((len(features), width), -100, dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            ids[row, :n] = torch.as_tensor(f["input_ids"])
            pos[row, :n] = torch.as_tensor(f["position_ids"])
            pos[row, n:] = torch.arange(width - n)
            labels[row, :n] = ids[row, :n]
        labels[ids == self.bos_token_id] = -100
        return {"input_ids": ids, "position_ids": pos, "labels": labels}


def example_stats(ds: Dataset, mode: str, seq_len: int, batch_size: int) -> dict[str, Any]:
    """Token positions and the share of them that is padding.

    Reference-mode examples are padded when built, so their count is exact. Sentence blocks
    are padded per batch (to the longest example), so for them this is an estimate from
    batching the examples in dataset order, which a shuffled batch matches on average.
    """
    if "attention_mask" in ds.column_names:
        masks = ds["attention_mask"]
        count, tokens, positions = len(masks), sum(map(sum, masks)), sum(map(len, masks))
    else:
        lengths = [len(ids) for ids in ds["input_ids"]]
        count, tokens = len(lengths), sum(lengths)
        positions = sum(
            max(lengths[i : i + batch_size]) * len(lengths[i : i + batch_size])
            for i in range(0, len(lengths), batch_size)
        )
    return {
        "examples": count,
        "tokens": tokens,
        "positions": positions,
        "padding_share": round(1 - tokens / positions, 4) if positions else 0.0,
        "mean_length": round(tokens / max(count, 1), 2),
        "seq_len": seq_len,
        "mode": mode,
    }

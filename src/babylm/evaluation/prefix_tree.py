"""Pack token sequences into prefix trees, so that every shared prefix is computed once.

BLiMP's 134,000 sentences hold 1.65M tokens, but as a trie only about 60% of them are distinct
prefixes: the two sentences of a pair share their start, and many pairs of a paradigm start
alike. A causal LM's output at a position depends only on the tokens before it, so a token
needs computing once per distinct prefix. We lay each trie out depth-first in rows of at
most ``width`` tokens; a token's position id is its depth and it attends to its ancestors
only (a "tree attention" mask), which gives it exactly the context it has in its sentence.

A sentence's last token needs no forward pass of its own unless a longer sentence continues
it: its log-probability is read from its parent's output. Such leaves stay out of the rows
(about 13% of BLiMP's nodes) and are kept as ``(parent, token)`` in ``ends``.

Rows are filled with sequences in sorted order, so a sequence shares with the previous one
its longest common prefix and adds only its remaining tokens as a chain.

A sequence may be scored from a later token on (``starts``): the official suite scores only a
completion after its context. A node whose log-probability no sequence asks for still runs
through the model body (later tokens attend to it) but is marked not ``needed``, so the LM
head and its log-normaliser skip it: most of an entity-tracking item is such context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

NO_LEAF = -1


@dataclass
class TreeRow:
    """One row: nodes in depth-first order, each sequence a chain hanging off an earlier node.

    ``ends`` holds, per sequence, ``(index, node, leaf, cut)``: its score is the path sum of
    ``node`` minus that of ``cut`` (its node just before its first scored token) plus, when
    ``leaf`` is not ``NO_LEAF``, the log-probability of token ``leaf`` after ``node``.
    ``needed[j]`` says whether some sequence scores node j's token.
    """

    ids: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)  # -1: a root (context only, not scored)
    depths: list[int] = field(default_factory=list)
    chains: list[tuple[int, int, int]] = field(default_factory=list)  # (start, stop, attach)
    ends: list[tuple[int, int, int, int]] = field(default_factory=list)
    needed: list[bool] = field(default_factory=list)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def pack_prefix_trees(
    sequences: Sequence[Sequence[int]],
    width: int = 256,
    starts: Sequence[int] | None = None,
) -> list[TreeRow]:
    """Distinct sequences of two or more ids packed into rows of at most ``max(width, longest)``
    nodes; each distinct (sequence, start) is listed in ``ends`` under its first index.

    Sequence i is scored from token ``starts[i]`` on (default 1: every token after the first,
    which is context only). Shorter sequences score nothing and are left out.
    """
    if starts is None:
        starts = [1] * len(sequences)
    first: dict[tuple[int, ...], dict[int, int]] = {}  # sequence -> start -> first index
    for index, (seq, start) in enumerate(zip(sequences, starts, strict=True)):
        if not 1 <= start < max(len(seq), 2):
            raise ValueError(f"sequence {index}: start {start} outside 1..{len(seq) - 1}")
        if len(seq) > 1:
            first.setdefault(tuple(seq), {}).setdefault(start, index)
    ordered = sorted(first)
    width = max([width, *map(len, ordered)])
    rows: list[TreeRow] = []
    row: TreeRow | None = None
    path: list[int] = []  # node of each token of the previous sequence in this row
    previous: tuple[int, ...] = ()
    for position, seq in enumerate(ordered):
        following = ordered[position + 1] if position + 1 < len(ordered) else ()
        continued = following[: len(seq)] == seq  # sorted: only the next one can continue it
        stop = len(seq) if continued else len(seq) - 1  # tokens that need nodes
        # Distinct and sorted: no sequence is a prefix of the one before it, so shared < len.
        shared = min(_common_prefix(previous, seq), stop) if row is not None else 0
        if row is None or len(row.ids) + stop - shared > width:
            row, shared, path = TreeRow(), 0, []
            rows.append(row)
        del path[shared:]
        start, attach = len(row.ids), (path[-1] if path else -1)
        for depth in range(shared, stop):
            row.parents.append(path[-1] if path else -1)
            path.append(len(row.ids))
            row.ids.append(seq[depth])
            row.depths.append(depth)
            row.needed.append(False)
        if len(row.ids) > start:
            row.chains.append((start, len(row.ids), attach))
        for scored_from, index in first[seq].items():
            for node in path[scored_from:]:
                row.needed[node] = True
            leaf = NO_LEAF if continued else seq[-1]
            row.ends.append((index, path[-1], leaf, path[scored_from - 1]))
        previous = seq
    return rows


def ancestor_mask(row: TreeRow, width: int) -> torch.Tensor:
    """``mask[i, j]`` is True where node j is node i itself or one of its ancestors.

    Positions past the row's end attend only to themselves (an all-False row gives NaN).
    """
    mask = torch.zeros((width, width), dtype=torch.bool)
    for start, stop, attach in row.chains:
        if attach >= 0:
            mask[start:stop] = mask[attach]
        mask[start:stop, start:stop] = torch.ones(
            stop - start, stop - start, dtype=torch.bool
        ).tril()
    pad = torch.arange(len(row.ids), width)
    mask[pad, pad] = True
    return mask

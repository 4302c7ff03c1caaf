"""Prefix-tree packing: every sequence is recoverable from its row, with the right context."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.evaluation.prefix_tree import NO_LEAF, ancestor_mask, pack_prefix_trees

sequences = st.lists(st.lists(st.integers(0, 3), min_size=0, max_size=7), max_size=25)


def path_of(row, node: int) -> list[int]:
    nodes = []
    while node >= 0:
        nodes.append(node)
        node = row.parents[node]
    return nodes[::-1]


@settings(max_examples=300, deadline=None)
@given(sequences, st.integers(1, 12), st.randoms(use_true_random=False))
def test_rows_rebuild_every_sequence_with_its_own_context(seqs, width, rnd) -> None:
    starts = [rnd.randint(1, max(1, len(s) - 1)) for s in seqs]
    rows = pack_prefix_trees(seqs, width, starts)
    longest = max([0, *map(len, seqs)])
    seen = {}
    for row in rows:
        assert 0 < len(row.ids) <= max(width, longest)
        mask = ancestor_mask(row, len(row.ids) + 2)
        for node, parent in enumerate(row.parents):
            assert parent < node  # depth-first: a parent comes first
            path = path_of(row, node)
            assert row.depths[node] == len(path) - 1  # position id = depth
            assert mask[node].nonzero().flatten().tolist() == path  # attends to its path only
        assert mask[len(row.ids) :, len(row.ids) :].equal(
            mask[len(row.ids) :, len(row.ids) :].diag().diag()
        )
        scored = set()
        for index, node, leaf, cut in row.ends:
            path = path_of(row, node)
            rebuilt = [row.ids[j] for j in path]
            if leaf != NO_LEAF:
                rebuilt.append(leaf)
            assert rebuilt == list(seqs[index])
            assert path[starts[index] - 1] == cut  # the node just before the first scored one
            scored.update(path[starts[index] :])
            assert (index, starts[index]) not in seen
            seen[index, starts[index]] = rebuilt
        # the head runs exactly where some sequence scores the token
        assert {j for j, flag in enumerate(row.needed) if flag} == scored
    wanted = {(tuple(s), a) for s, a in zip(seqs, starts, strict=True) if len(s) > 1}
    assert {(tuple(s), a) for (_, a), s in seen.items()} == wanted
    first = {}
    for index, key in enumerate(zip(map(tuple, seqs), starts, strict=True)):
        first.setdefault(key, index)
    assert all(first[tuple(seqs[i]), a] == i for i, a in seen)  # listed under its first index


def test_shared_prefixes_are_stored_once_and_leaves_not_at_all() -> None:
    seqs = [[1, 5, 6, 7], [1, 5, 6, 8], [1, 5, 9], [1, 5, 6, 7], [1, 5, 6]]
    (row,) = pack_prefix_trees(seqs, width=64)
    # nodes: 1, 5, 6 (a sentence of its own and the context of 7 and 8); 7, 8, 9 are leaves
    assert row.ids == [1, 5, 6]
    assert sorted(row.ends) == [(0, 2, 7, 0), (1, 2, 8, 0), (2, 1, 9, 0), (4, 2, NO_LEAF, 0)]
    assert row.needed == [False, True, True]  # the first token is context only


def test_context_before_every_start_needs_no_head() -> None:
    # a context (1, 5, 6) and three completions scored from position 3 on, as entity tracking
    seqs = [[1, 5, 6, 7, 2], [1, 5, 6, 8, 2], [1, 5, 6, 9]]
    (row,) = pack_prefix_trees(seqs, width=64, starts=[3, 3, 3])
    assert row.ids == [1, 5, 6, 7, 8]
    assert row.needed == [False, False, False, True, True]
    assert [cut for *_, cut in row.ends] == [2, 2, 2]

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
@given(sequences, st.integers(1, 12))
def test_rows_rebuild_every_sequence_with_its_own_context(seqs, width) -> None:
    rows = pack_prefix_trees(seqs, width)
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
        for index, node, leaf in row.ends:
            rebuilt = [row.ids[j] for j in path_of(row, node)]
            if leaf != NO_LEAF:
                rebuilt.append(leaf)
            assert rebuilt == list(seqs[index])
            assert index not in seen
            seen[index] = rebuilt
    wanted = {tuple(s) for s in seqs if len(s) > 1}
    assert {tuple(s) for s in seen.values()} == wanted
    assert all(seqs.index(list(s)) in seen for s in wanted)  # listed under its first index


def test_shared_prefixes_are_stored_once_and_leaves_not_at_all() -> None:
    seqs = [[1, 5, 6, 7], [1, 5, 6, 8], [1, 5, 9], [1, 5, 6, 7], [1, 5, 6]]
    (row,) = pack_prefix_trees(seqs, width=64)
    # nodes: 1, 5, 6 (a sentence of its own and the context of 7 and 8); 7, 8, 9 are leaves
    assert row.ids == [1, 5, 6]
    assert sorted(row.ends) == [(0, 2, 7), (1, 2, 8), (2, 1, 9), (4, 2, NO_LEAF)]

"""Minimal-pair scoring: exact log-probabilities, protocols, aggregation, sets, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

from babylm.data import blimp_paradigms
from babylm.evaluation import (
    Pair,
    aggregate,
    blimp_pairs,
    folder_pairs,
    pair_credit,
    wilson_interval,
)
from babylm.evaluation.scoring import encode_for_scoring, score_sequences, score_tree

SENTENCES = [
    "The cat sat on the mat.",
    "The cats sat on the mat.",
    "Who did the dog see?",
    "A",
    "The cat sat on the mat.",  # a duplicate
]


def brute_force(model, ids: list[int], start: int = 1) -> float:
    """One sentence per forward pass: the definition the batched scorer must match."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(logprobs[t - 1, ids[t]].item() for t in range(start, len(ids)))


def test_batched_scores_equal_one_sentence_at_a_time(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = LlamaForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    seqs = encode_for_scoring(tok, SENTENCES, "standard")
    assert all(s[0] == tok.bos_token_id for s in seqs)
    for batch_size in (1, 2, 64):
        scores = score_sequences(model, seqs, batch_size=batch_size, progress=False)
        expected = [brute_force(model, s) for s in seqs]
        assert scores == pytest.approx(expected, abs=1e-4)
    assert scores[0] == scores[4]
    assert scores[3] < 0  # a one-word sentence is scored after <s>


@pytest.mark.parametrize("protocol", ["standard", "reference"])
def test_prefix_tree_scores_equal_one_sentence_at_a_time(
    tiny_model_dir: Path, protocol: str
) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = LlamaForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    texts = [
        "The cat sat on the mat.",
        "The cats sat on the mat.",  # differs in the middle
        "Who did the dog see?",
        "Who did the dog see?",  # a duplicate
        "The cat sat.",
        "The cat",  # a prefix of others
        "A",  # one word: after <s> in the standard protocol, nothing to score in the reference
        "Who",
        "Dogs bark.",
        "",  # empty
    ]
    seqs = encode_for_scoring(tok, texts, protocol)
    expected = [brute_force(model, s) if len(s) > 1 else 0.0 for s in seqs]
    for tokens_per_batch, width in ((1, 1), (16, 8), (4096, 256)):
        scores = score_tree(model, seqs, tokens_per_batch, width, progress=False)
        assert scores == pytest.approx(expected, abs=1e-4)
    assert scores[2] == scores[3]
    assert scores == pytest.approx(score_sequences(model, seqs, progress=False), abs=1e-4)


def test_spans_scored_from_a_start_skip_their_context(tiny_model_dir: Path) -> None:
    """A context shared by several completions (entity tracking, EWoK, reading): only the
    tokens from each sequence's start are summed, whichever scorer, whatever the packing."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = LlamaForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    context = "Box 1 contains the hat. Box 2 contains the cat. Box 1 contains"
    seqs = encode_for_scoring(tok, [context + x for x in (" the hat.", " the cat.", " the")])
    cut = len(encode_for_scoring(tok, [context])[0])
    seqs += [seqs[0], seqs[0][:cut], seqs[0]]  # the same ids scored from another start
    starts = [cut, cut, cut, 1, cut - 1, len(seqs[0]) - 1]
    expected = [brute_force(model, s, a) for s, a in zip(seqs, starts, strict=True)]
    assert expected[3] < expected[0] < 0.0  # the context's own tokens are left out
    for tokens_per_batch, width in ((1, 1), (16, 8), (4096, 256)):
        got = score_tree(model, seqs, tokens_per_batch, width, progress=False, starts=starts)
        assert got == pytest.approx(expected, abs=1e-4)
    plain = score_sequences(model, seqs, progress=False, starts=starts)
    assert plain == pytest.approx(expected, abs=1e-4)


def test_reference_protocol_scores_no_first_token(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    seqs = encode_for_scoring(tok, ["A", "The cat sat.", "word " * 300], "reference")
    assert tok.bos_token_id not in seqs[1]
    assert len(seqs[2]) == 127
    model = LlamaForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    scores = score_sequences(model, seqs, progress=False)
    assert scores[0] == 0.0  # one token: nothing is scored
    assert scores[1] == pytest.approx(brute_force(model, seqs[1]), abs=1e-4)
    lead = encode_for_scoring(tok, ["The cat"], "standard", leading_space=True)[0]
    assert tok.convert_ids_to_tokens(lead[1]).startswith("Ġ")


def test_ties_count_half_in_the_standard_protocol_only() -> None:
    assert pair_credit(-1.0, -2.0, "standard") == 1.0
    assert pair_credit(-2.0, -1.0, "standard") == 0.0
    assert pair_credit(-1.0, -1.0, "standard") == 0.5
    assert pair_credit(-1.0, -1.0, "reference") == 0.0


def test_aggregate_over_pairs_paradigms_terms_and_fields() -> None:
    pairs = [Pair("blimp", "p1", str(i), "g", "b", "syntax", "t1") for i in range(3)]
    pairs += [Pair("blimp", "p2", "0", "g", "b", "semantics", "t2")]
    res = aggregate(pairs, [1.0, 1.0, 0.5, 0.0], "standard")
    assert res["overall"] == pytest.approx(2.5 / 4)
    assert res["macro"] == pytest.approx((2.5 / 3 + 0.0) / 2, abs=1e-4)
    assert res["paradigms"]["p1"] | {} == {
        "acc": 0.8333,
        "n": 3,
        "ci95": wilson_interval(2.5, 3),
        "field": "syntax",
        "term": "t1",
    }
    assert res["terms"]["t2"]["acc"] == 0.0 and res["fields"]["syntax"]["n"] == 3
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high and high - low == pytest.approx(0.19, abs=0.01)


def test_exact_accuracies_from_pair_rows_are_aggregates_figures_unrounded() -> None:
    from babylm.evaluation.aggregate import exact_accuracies

    scores = [(-1.0, -2.0), (-1.0, -2.0), (-1.0, -1.0)]
    rows = [{"task": "blimp", "paradigm": "p1", "good": g, "bad": b} for g, b in scores]
    rows += [{"task": "blimp", "paradigm": "p2", "good": -2.0, "bad": -1.0}]
    rows += [{"task": "supplement", "paradigm": "s", "good": -1.0, "bad": -2.0}]  # not blimp
    field_of = {"p1": "syntax", "p2": "semantics"}
    exact = exact_accuracies(rows, "standard", field_of)
    assert exact == {
        "overall": 2.5 / 4,
        "macro": (2.5 / 3 + 0.0) / 2,
        "fields": {"syntax": 2.5 / 3, "semantics": 0.0},
    }
    pairs = [
        Pair("blimp", r["paradigm"], str(i), "g", "b", field_of[r["paradigm"]], "t")
        for i, r in enumerate(rows[:4])
    ]
    res = aggregate(pairs, [1.0, 1.0, 0.5, 0.0], "standard")
    assert res["overall"] == round(exact["overall"], 4)
    assert res["macro"] == round(exact["macro"], 4)
    assert {k: v["acc"] for k, v in res["fields"].items()} == {
        k: round(v, 4) for k, v in exact["fields"].items()
    }
    assert exact_accuracies(rows, "reference", field_of)["overall"] == 2 / 4  # a tie is wrong


def test_stratified_subsets_are_fixed_and_complete() -> None:
    first = blimp_pairs(per_paradigm=5)
    assert first == blimp_pairs(per_paradigm=5)
    assert len(first) == 67 * 5 == 5 * len(blimp_paradigms())
    assert {p.paradigm for p in first} == set(blimp_paradigms())
    assert blimp_pairs(per_paradigm=5, seed=1) != first
    assert len(blimp_pairs(paradigms=["adjunct_island"])) == 1000
    npi = blimp_pairs(per_paradigm=2, terms=["npi_licensing"])
    assert {p.term for p in npi} == {"npi_licensing"} and len(npi) == 2 * 7
    assert {p.field for p in blimp_pairs(per_paradigm=1)} == {
        "morphology",
        "semantics",
        "syntax",
        "syntax_semantics",
    }


def test_malformed_pair_file_names_file_and_line(cli, tmp_path: Path, tiny_model_dir) -> None:
    folder = tmp_path / "pairs"
    folder.mkdir()
    (folder / "mine.jsonl").write_text(
        '{"sentence_good": "A cat.", "sentence_bad": "A cats."}\n{"sentence_good": "x"}\n'
    )
    with pytest.raises(Exception, match=r"mine.jsonl:2: no sentence_good/sentence_bad"):
        folder_pairs(folder)
    result = cli(
        "eval",
        str(tiny_model_dir),
        "--tasks",
        "",
        "--pairs-dir",
        str(folder),
        "--out",
        str(tmp_path / "out"),
    )
    assert result.code == 2 and "mine.jsonl:2:" in result.err
    assert not (tmp_path / "out").exists()


def test_a_non_utf8_pair_file_names_file_line_and_byte(
    cli, tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = tmp_path / "pairs"
    folder.mkdir()
    first = b'{"sentence_good": "A cat.", "sentence_bad": "A cats."}\n'
    second = b'{"sentence_good": "A caf\xe9.", "sentence_bad": "A cafes."}\n'
    (folder / "mine.jsonl").write_bytes(first + second)
    out = tmp_path / "out"
    result = cli("eval", str(tiny_model_dir), "--pairs-dir", str(folder), "--out", str(out))
    offset = len(first) + second.index(b"\xe9")
    assert result.code == 2
    assert result.err.strip() == (
        f"babylm: error: {folder / 'mine.jsonl'}:2: not UTF-8 (byte offset {offset} in the file)"
    )
    assert not out.exists()


def test_a_pairs_folder_alone_scores_only_that_folder(
    cli, tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "agreement.jsonl").write_text(
        '{"sentence_good": "A cat.", "sentence_bad": "A cats."}\n'
        '{"sentence_good": "The cats sat.", "sentence_bad": "The cats sits."}\n'
    )
    out = tmp_path / "out"
    result = cli("eval", str(tiny_model_dir), "--pairs-dir", str(folder), "--out", str(out))
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == ["mine.json", "pairs.jsonl.gz"]
    assert json.loads((out / "mine.json").read_text())["n_pairs"] == 2
    assert "mine: overall" in result.out and "BLiMP" not in result.out


def test_eval_command_writes_results(cli, tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "eval"
    result = cli(
        "eval",
        str(tiny_model_dir),
        "--out",
        str(out),
        "--per-paradigm",
        "2",
        "--paradigms",
        "adjunct_island,passive_1",
        "--batch-size",
        "8",
    )
    assert result.code == 0, result.err
    assert result.out.strip().splitlines()[-1].startswith("BLiMP overall ")
    assert result.out.strip().endswith("(4 pairs)")
    blimp = json.loads((out / "blimp.json").read_text())
    assert blimp["n_pairs"] == 4 and set(blimp["paradigms"]) == {"adjunct_island", "passive_1"}
    supplement = json.loads((out / "supplement.json").read_text())
    assert supplement["n_pairs"] == 5 * 2
    rows = [
        json.loads(x)
        for x in gzip.decompress((out / "pairs.jsonl.gz").read_bytes()).split(b"\n")
        if x
    ]
    assert len(rows) == 14 and {"good", "bad", "paradigm", "pair_id"} <= rows[0].keys()
    credit = [pair_credit(r["good"], r["bad"], "standard") for r in rows if r["task"] == "blimp"]
    assert blimp["overall"] == pytest.approx(sum(credit) / 4, abs=1e-4)


def test_prefix_tree_works_for_gpt2_and_falls_back_where_it_cannot(
    tiny_model_dir: Path, recwarn: pytest.WarningsRecorder
) -> None:
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    seqs = encode_for_scoring(tok, ["The cat sat on the mat.", "The cats sat on the mat.", "A"])
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2)).eval()
    expected = [brute_force(gpt2, s) for s in seqs]
    assert score_tree(gpt2, seqs, progress=False) == pytest.approx(expected, abs=1e-4)
    assert not recwarn.list

    class Scaled(LlamaForCausalLM):
        """Logits that are not head(body(x)) (a logit scale, as some models have): the tree
        scorer must notice and step aside."""

        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            out.logits = 4.0 * out.logits
            return out

    capped = Scaled.from_pretrained(str(tiny_model_dir)).eval()
    with pytest.warns(UserWarning, match="using the plain scorer"):
        scores = score_tree(capped, seqs, progress=False)
    assert scores == pytest.approx([brute_force(capped, s) for s in seqs], abs=1e-4)


def test_a_model_folder_transformers_cannot_read_is_one_line(cli, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    folder = tmp_path / "odd-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    save_file({"w": torch.zeros(1)}, str(folder / "model.safetensors"))
    result = cli("eval", str(folder), "--out", str(tmp_path / "out"))
    assert result.code == 2
    assert result.err.startswith(f"babylm: error: {folder}/config.json: not a model config")
    assert len(result.err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()

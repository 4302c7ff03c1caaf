"""Optional corpus normalisation steps: each alone, their order, and the corpus stage option."""

from __future__ import annotations

from pathlib import Path

import pytest

from babylm.config import load_config
from babylm.corpus import build_corpus
from babylm.errors import BabylmError
from babylm.normalize import (
    STEPS,
    drop_fillers,
    join_fragments,
    normalize_text,
    sentence_case_caps,
    split_sentences,
    tidy_punctuation,
    unescape_markup,
)


def test_markup_entities_and_ref_tags_removed() -> None:
    line = 'AGCO bought Hesston.&lt;ref name="A-1"&gt;cite&lt;/ref&gt; Then &amp; now &lt;br/&gt;.'
    assert unescape_markup(line) == "AGCO bought Hesston. Then & now ."


def test_caps_lines_become_sentence_case_keeping_i() -> None:
    assert sentence_case_caps("I'M SURE I SAW HIM, I THINK.") == "I'm sure I saw him, I think."
    assert sentence_case_caps("- WHAT DID SHE SAY?") == "- What did she say?"
    assert sentence_case_caps("OK.") == "OK."  # too short to tell
    assert sentence_case_caps("The BBC said NO.") == "The BBC said NO."  # mixed case: untouched


def test_punctuation_dialogue_dash_and_spaces() -> None:
    assert tidy_punctuation("- Where are you going ?") == "Where are you going?"
    assert tidy_punctuation("to the hotel , then home .") == "to the hotel, then home."
    assert tidy_punctuation("It costs 3.5 pounds.") == "It costs 3.5 pounds."
    assert tidy_punctuation("well-known") == "well-known"


def test_fillers_removed_and_capital_restored() -> None:
    line = "erm Your comment on wards, er, I think"
    assert drop_fillers(line) == "Your comment on wards, I think"
    assert drop_fillers("Erm, the other thing") == "The other thing"
    assert drop_fillers("Mm.") == ""  # a line of hesitation only goes
    assert drop_fillers("the term ermine and error") == "the term ermine and error"


def test_join_fragments_only_when_the_sentence_continues() -> None:
    lines = ["I'm not gonna go", "to the party.", "Fine", "Really.", "and then", "WE WENT", "HOME."]
    assert join_fragments(lines) == [
        "I'm not gonna go to the party.",
        "Fine",
        "Really.",
        "and then",
        "WE WENT HOME.",
    ]


def test_split_sentences_respects_abbreviations_and_initials() -> None:
    line = 'He met Mr. Smith in St. Louis. Then J. S. Bach played! "Why?" she asked. Done'
    assert split_sentences(line) == [
        "He met Mr. Smith in St. Louis.",
        "Then J. S. Bach played!",
        '"Why?" she asked.',
        "Done",
    ]
    assert split_sentences("It was 3.5 m. long. Yes.") == ["It was 3.5 m. long.", "Yes."]


def test_steps_run_in_fixed_order_and_empty_lines_go() -> None:
    text = "- I'M NOT GONNA PRANCE AROUND\nLIKE SOME SLAB OF BEEF. NO WAY.\nerm\nerm Yes , I do .\n"
    out = normalize_text(text, list(reversed(STEPS)))  # the listed order does not matter
    assert out == "I'm not gonna prance around like some slab of beef.\nNo way.\nYes, I do.\n"
    assert normalize_text(text, []) == text


def test_corpus_stage_applies_steps_and_records_them(tmp_path: Path) -> None:
    plain = load_config("smoke")
    steps = ["caps", "sentences"]
    normalized = load_config("smoke", [f"corpus.normalize={','.join(steps)}"])
    a = build_corpus(plain.corpus, tmp_path / "a")
    b = build_corpus(normalized.corpus, tmp_path / "b")
    assert b["settings"]["normalize"] == steps
    assert b["train"]["lines"] > a["train"]["lines"]  # multi-sentence wiki lines were split
    for split in ("train", "dev"):  # same raw bytes taken from each source
        raw_a = {k: v["raw_bytes"] for k, v in a[split]["sources"].items()}
        raw_b = {k: v["raw_bytes"] for k, v in b[split]["sources"].items()}
        assert raw_a == raw_b
    text = (tmp_path / "b" / "train.txt").read_text(encoding="utf-8")
    assert not [line for line in text.splitlines() if sentence_case_caps(line) != line]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["corpus.normalize=caps,spelling"], "unknown step 'spelling'"),
        (["corpus.clean=false", "corpus.normalize=caps"], "needs corpus.clean"),
    ],
)
def test_bad_normalize_settings_are_refused(overrides: list[str], message: str) -> None:
    with pytest.raises(BabylmError, match=message):
        load_config("smoke", overrides)

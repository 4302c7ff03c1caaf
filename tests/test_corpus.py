"""Equal-bytes round-robin mixing, the reference md5s, cleaning, UTF-8 safety, bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.config import load_config
from babylm.corpus import (
    build_corpus,
    clean_text,
    cut_chunks,
    locate_sources,
    mix_round_robin,
    split_quota,
)
from babylm.errors import BabylmError

REFERENCE_TRAIN_MD5 = "3156607fbbd091877482a968be119c60"
REFERENCE_DEV_MD5 = "2adc6e8618b89abf658be6c1a22ba498"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_reference_a_reproduces_the_reference_files_byte_for_byte(tmp_path: Path) -> None:
    manifest = build_corpus(load_config("reference-a").corpus, tmp_path)
    assert md5(tmp_path / "train.txt") == REFERENCE_TRAIN_MD5
    assert md5(tmp_path / "dev.txt") == REFERENCE_DEV_MD5
    assert manifest["train"]["md5"] == REFERENCE_TRAIN_MD5
    assert manifest["train"]["bytes"] == 2 * 1024 * 1024
    quotas = [s["bytes"] for s in manifest["train"]["sources"].values()]
    assert quotas == [699051, 699051, 699050]
    assert [s["bytes"] for s in manifest["dev"]["sources"].values()] == [87382, 87381, 87381]


def test_quota_split_is_as_even_as_integers_allow() -> None:
    assert split_quota(2 * 1024 * 1024, 3) == [699051, 699051, 699050]
    assert split_quota(10, 4) == [3, 3, 2, 2]
    assert sum(split_quota(12345, 7)) == 12345


def test_round_robin_interleaves_chunks_of_each_source() -> None:
    mixed = mix_round_robin([[b"a1", b"a2", b"a3"], [b"b1"], [b"c1", b"c2"]])
    assert mixed == b"a1b1c1a2c2a3"


def test_clean_mix_balances_raw_bytes_and_is_deterministic(
    tmp_path: Path, babylm_folder: Path
) -> None:
    cfg = load_config(
        "smoke",
        [
            f"corpus.data_dir={babylm_folder}",
            "corpus.total_bytes=6000",
            "corpus.dev_bytes=3000",
            "corpus.chunk_bytes=700",
        ],
    ).corpus
    first = build_corpus(cfg, tmp_path / "one")
    second = build_corpus(cfg, tmp_path / "two")
    assert (tmp_path / "one" / "train.txt").read_bytes() == (
        tmp_path / "two" / "train.txt"
    ).read_bytes()
    assert first["train"]["sha256"] == second["train"]["sha256"]
    longest_line = max(
        len(line) + 1
        for src in locate_sources(cfg, "train")
        for line in src.path.read_bytes().split(b"\n")
    )
    for stats in first["train"]["sources"].values():
        assert stats["quota"] - longest_line < stats["raw_bytes"] <= stats["quota"]
        assert stats["chunks"] >= 3
    text = (tmp_path / "one" / "train.txt").read_text(encoding="utf-8")
    assert "= = =" not in text and "\n\n" not in text and "   " not in text
    assert text.endswith("\n")


def test_unclean_mix_takes_exact_quotas(tmp_path: Path, babylm_folder: Path) -> None:
    cfg = load_config(
        "smoke",
        [
            f"corpus.data_dir={babylm_folder}",
            "corpus.total_bytes=5000",
            "corpus.dev_bytes=1000",
            "corpus.chunk_bytes=512",
            "corpus.clean=false",
        ],
    ).corpus
    manifest = build_corpus(cfg, tmp_path)
    # The sample text has multi-byte characters: a cut may move back up to 3 bytes.
    for stats, quota in zip(
        manifest["train"]["sources"].values(), split_quota(5000, 3), strict=True
    ):
        assert quota - 3 <= stats["bytes"] <= quota
    (tmp_path / "train.txt").read_bytes().decode("utf-8")


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab \né€😀\n"), max_size=400),
    quota=st.integers(min_value=1, max_value=500),
    chunk=st.integers(min_value=1, max_value=64),
    on_lines=st.booleans(),
)
def test_cuts_never_split_a_character(text: str, quota: int, chunk: int, on_lines: bool) -> None:
    data = text.encode("utf-8")
    chunks = cut_chunks(data, quota, chunk, on_lines)
    joined = b"".join(chunks)
    assert data.startswith(joined)
    for part in chunks:
        assert part
        part.decode("utf-8")  # raises if a character was split
    if len(data) <= quota:
        assert joined == data
    else:
        assert len(joined) <= quota + 3  # only a window shorter than one character moves forward


def test_line_cuts_end_chunks_on_newlines() -> None:
    data = b"".join(f"line {i} of the text\n".encode() for i in range(100))
    chunks = cut_chunks(data, 1000, 100, on_lines=True)
    assert all(c.endswith(b"\n") for c in chunks)
    assert all(len(c) <= 100 for c in chunks)
    assert 1000 - 21 < sum(map(len, chunks)) <= 1000


def test_clean_text() -> None:
    raw = "= = = Title = = =\n\n  ﬁne\u00a0 day\t today \n= not a header\nA\u2028B\n"
    assert clean_text(raw) == "fine day today\n= not a header\nA B\n"


def _corpus_cli(cli, tmp_path: Path, folder: Path):
    run_dir = tmp_path / "run"
    result = cli(
        "corpus",
        "smoke",
        "--run-dir",
        str(run_dir),
        "--set",
        f"corpus.data_dir={folder}",
        "--set",
        "corpus.total_bytes=3000",
        "--set",
        "corpus.dev_bytes=600",
    )
    return result, run_dir


def test_invalid_utf8_names_file_and_byte_offset(cli, tmp_path: Path, babylm_folder: Path) -> None:
    bad = babylm_folder / "train_10M" / "bnc_spoken.train"
    data = bad.read_bytes()
    bad.write_bytes(data[:500] + b"\xff\xfe" + data[500:])
    result, run_dir = _corpus_cli(cli, tmp_path, babylm_folder)
    assert result.code == 2
    assert result.err.strip() == f"babylm: error: {bad}: invalid UTF-8 at byte offset 500"
    assert not (run_dir / "corpus").exists()


def test_empty_source_is_an_error(cli, tmp_path: Path, babylm_folder: Path) -> None:
    empty = babylm_folder / "dev" / "open_subtitles.dev"
    empty.write_bytes(b"")
    result, run_dir = _corpus_cli(cli, tmp_path, babylm_folder)
    assert result.code == 2
    assert f"{empty}: file is empty" in result.err
    assert not (run_dir / "corpus").exists()


def test_missing_source_names_the_expected_file(cli, tmp_path: Path, babylm_folder: Path) -> None:
    missing = babylm_folder / "train_10M" / "simple_wiki.train"
    missing.unlink()
    result, _ = _corpus_cli(cli, tmp_path, babylm_folder)
    assert result.code == 2
    assert f"{missing}: source file not found" in result.err


def test_user_folder_may_hold_sources_directly(tmp_path: Path, babylm_folder: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in babylm_folder.glob("*/*"):
        (flat / path.name).write_bytes(path.read_bytes())
    cfg = load_config(
        "smoke", [f"corpus.data_dir={flat}", "corpus.total_bytes=3000", "corpus.dev_bytes=600"]
    ).corpus
    assert [s.path for s in locate_sources(cfg, "dev")] == [
        flat / f"{n}.dev" for n in ("simple_wiki", "bnc_spoken", "open_subtitles")
    ]


def test_embedded_data_lacks_other_sources() -> None:
    with pytest.raises(BabylmError, match="not in the embedded data"):
        locate_sources(load_config("smoke", ["corpus.sources=childes"]).corpus, "train")

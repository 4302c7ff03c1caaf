"""The run folder: resolved config, stage skipping and forcing, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from babylm import corpus as corpus_mod
from babylm.config import load_config
from babylm.pipeline import run_corpus
from babylm.runfolder.manifest import same_work

EARLY = ("--stages", "corpus,tokenizer")  # the stages before training, which has its own tests


def manifest(run_dir: Path, stage: str) -> dict:
    return json.loads((run_dir / stage / "manifest.json").read_text())


def test_smoke_run_builds_then_skips_then_forces(cli, tmp_path: Path) -> None:
    run_dir = tmp_path / "smoke"
    first = cli("run", "smoke", "--run-dir", str(run_dir), *EARLY)
    assert first.code == 0, first.err
    assert "corpus     built" in first.out and "tokenizer  built" in first.out
    assert load_config(str(run_dir / "config.yaml")) == load_config("smoke")
    assert (run_dir / "tokenizer" / "tokenizer.json").is_file()
    tok_manifest = manifest(run_dir, "tokenizer")
    assert tok_manifest["vocab_size"] == 1000
    assert tok_manifest["dev"]["bytes_per_token"] > 1
    assert (
        tok_manifest["inputs"]["corpus/train.txt"] == manifest(run_dir, "corpus")["train"]["sha256"]
    )

    again = cli("run", "smoke", "--run-dir", str(run_dir), *EARLY)
    assert "corpus     up to date, skipped" in again.out
    assert "tokenizer  up to date, skipped" in again.out
    assert manifest(run_dir, "tokenizer")["created"] == tok_manifest["created"]

    forced = cli("tokenizer", "smoke", "--run-dir", str(run_dir), "--force")
    assert "tokenizer  built" in forced.out


def test_changing_a_setting_redoes_only_the_stages_it_reaches(cli, tmp_path: Path) -> None:
    run_dir = tmp_path / "smoke"
    cli("run", "smoke", "--run-dir", str(run_dir), *EARLY)
    tok = cli(
        "run", "smoke", "--run-dir", str(run_dir), *EARLY, "--set", "tokenizer.vocab_size=900"
    )
    assert "corpus     up to date" in tok.out and "tokenizer  built" in tok.out
    assert manifest(run_dir, "tokenizer")["vocab_size"] == 900
    assert "vocab_size: 900" in (run_dir / "config.yaml").read_text()

    data = cli(
        "run", "smoke", "--run-dir", str(run_dir), *EARLY, "--set", "corpus.total_bytes=90000"
    )
    assert "corpus     built" in data.out and "tokenizer  built" in data.out


def test_a_stage_finished_before_a_field_existed_is_still_up_to_date(cli, tmp_path: Path) -> None:
    """An upgrade that adds a config field must not redo every finished run's stages."""
    run_dir = tmp_path / "smoke"
    cli("run", "smoke", "--run-dir", str(run_dir), *EARLY)
    path = run_dir / "tokenizer" / "manifest.json"
    old = manifest(run_dir, "tokenizer")  # as an older babylm, without tokenizer.mask_token
    del old["settings"]["mask_token"]
    old["fingerprint"] = "0" * 64
    path.write_text(json.dumps(old))
    again = cli("run", "smoke", "--run-dir", str(run_dir), *EARLY)
    assert "tokenizer  up to date, skipped" in again.out
    asked = cli(
        "run", "smoke", "--run-dir", str(run_dir), *EARLY, "--set", "tokenizer.mask_token=true"
    )
    assert "tokenizer  built" in asked.out  # the new field away from its default is new work


def test_same_work_compares_recorded_settings_with_the_defaults_for_new_fields() -> None:
    defaults = {"train": {"lr": 1.0, "z_loss": 0.0}}
    recorded = {"train": {"lr": 2.0}}
    assert same_work(recorded, {"train": {"lr": 2.0, "z_loss": 0.0}}, defaults)
    assert not same_work(recorded, {"train": {"lr": 2.0, "z_loss": 0.1}}, defaults)
    assert not same_work(recorded, {"train": {"lr": 3.0, "z_loss": 0.0}}, defaults)
    assert not same_work(recorded, {"train": {}}, defaults)  # a field that went away
    assert not same_work({}, {"new": 1}, {})  # a new field without a known default


def test_stages_option_runs_only_named_stages(cli, tmp_path: Path) -> None:
    run_dir = tmp_path / "smoke"
    result = cli("run", "smoke", "--run-dir", str(run_dir), "--stages", "corpus")
    assert result.code == 0
    assert (run_dir / "corpus" / "train.txt").exists() and not (run_dir / "tokenizer").exists()
    bad = cli("run", "smoke", "--run-dir", str(run_dir), "--stages", "corpus,fly")
    assert bad.code == 2 and "unknown stage 'fly'" in bad.err


def test_tokenizer_without_corpus_says_what_to_run(cli, tmp_path: Path) -> None:
    result = cli("tokenizer", "smoke", "--run-dir", str(tmp_path / "r"))
    assert result.code == 2
    assert "no finished corpus stage" in result.err


def test_a_failed_stage_leaves_the_previous_output_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config("smoke")
    run_dir = tmp_path / "run"
    run_corpus(cfg, run_dir)
    before = (run_dir / "corpus" / "train.txt").read_bytes()
    real_build = corpus_mod.build_corpus

    def killed_midway(corpus_cfg, out: Path) -> dict:
        real_build(corpus_cfg, out)
        (out / "train.txt").write_bytes(b"half")
        raise KeyboardInterrupt  # the stage dies after writing part of its output

    monkeypatch.setattr(corpus_mod, "build_corpus", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        run_corpus(cfg, run_dir, force=True)
    assert (run_dir / "corpus" / "train.txt").read_bytes() == before
    assert manifest(run_dir, "corpus")["train"]["bytes"] == len(before)
    assert sorted(p.name for p in run_dir.iterdir()) == ["corpus"]


def test_a_killed_first_build_leaves_no_finished_looking_stage(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    stale = run_dir / ".corpus.tmp-dead"  # what a SIGKILL during the first build leaves
    stale.mkdir(parents=True)
    (stale / "train.txt").write_text("partial")
    result = run_corpus(load_config("smoke"), run_dir)
    assert result.status == "built"
    assert not stale.exists()


def test_python_dash_m_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "babylm", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().startswith("babylm ")


def test_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    """Temporary files and folders are private (0600/0700); renamed into place, they must not be."""
    import os

    from babylm.runfolder import atomic_write_text, staged_output

    old = os.umask(0o022)
    try:
        with staged_output(tmp_path / "stage") as tmp:
            atomic_write_text(tmp / "out.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "stage").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "stage" / "out.json").stat().st_mode & 0o777 == 0o644

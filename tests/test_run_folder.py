"""A run folder has one writer, and a quick evaluation never replaces the run's own results."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def run(smoke_run: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the finished smoke run (corpus to report)."""
    target = tmp_path / "run"
    shutil.copytree(smoke_run[0], target)
    return target


def test_a_quick_eval_writes_beside_the_run_then_report_and_export_work(cli, run: Path) -> None:
    stage = run / "eval"
    before = {p.name: p.read_bytes() for p in stage.iterdir()}
    assert {"manifest.json", "blimp.json", "pairs.jsonl.gz"} <= before.keys()

    quick = cli("eval", str(run), "--tasks", "blimp", "--per-paradigm", "5")
    assert quick.code == 0, quick.err
    beside = run / "eval-blimp-5pp"
    assert f"results -> {beside}" in quick.out and "eval stage is untouched" in quick.out
    assert json.loads((beside / "blimp.json").read_text())["n_pairs"] == 67 * 5
    assert {p.name: p.read_bytes() for p in stage.iterdir()} == before  # not a byte changed

    report = cli("report", str(run), "--force")
    assert report.code == 0, report.err
    export = cli("export", str(run), "--force")
    assert export.code == 0, export.err
    card = (run / "model" / "README.md").read_text()
    assert "over 670 minimal pairs" in card  # the run's own 10 per paradigm, not the quick 5

    # The run's own settings are its eval stage: up to date, so skipped, and said so.
    again = cli("eval", str(run), "--tasks", "blimp", "--per-paradigm", "10")
    assert again.code == 0, again.err
    assert "up to date, skipped" in again.out and "(the run's eval stage)" in again.out
    # Named by --out, however spelt, the stage folder is still the stage: never written over.
    spelt_out = str(run / ".." / run.name / "eval")
    spelt = cli("eval", str(run), "--tasks", "blimp", "--per-paradigm", "10", "--out", spelt_out)
    assert spelt.code == 0 and "up to date, skipped" in spelt.out, spelt.err
    # Another selection may not be written over the stage's folder.
    refused = cli("eval", str(run), "--per-paradigm", "2", "--out", str(stage))
    assert refused.code == 2 and "eval stage folder" in refused.err
    assert {p.name: p.read_bytes() for p in stage.iterdir()} == before


HOLDER = """
import sys, time
from pathlib import Path
from babylm.rundir import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_writer_is_refused_and_a_killed_one_leaves_no_lock(cli, tmp_path: Path) -> None:
    folder = tmp_path / "c"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        second = cli("corpus", "smoke", "--run-dir", str(folder))
        assert second.code == 2
        assert second.err.strip() == (
            f"babylm: error: {folder}: another babylm process (pid {holder.pid}) is writing"
            " this run folder; wait for it to finish or stop it"
        )
        assert not (folder / "corpus").exists()
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the pid file stays behind
        holder.wait()
    assert (folder / ".lock.pid").is_file()
    after = cli("corpus", "smoke", "--run-dir", str(folder))
    assert after.code == 0, after.err
    assert (folder / "corpus" / "manifest.json").is_file()


def test_the_run_folder_is_read_in_one_place(tmp_path: Path) -> None:
    from babylm.errors import BabylmError
    from babylm.runfolder import exported_checkpoint, model_folder, read_summary, run_of

    run = tmp_path / "r"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    assert model_folder(run) == run / "model" and run_of(run) == run
    assert model_folder(run / "model") == run / "model" and run_of(run / "model") is None
    with pytest.raises(BabylmError, match="neither a run folder nor a Hugging Face model"):
        model_folder(tmp_path)
    assert read_summary(run) == {}
    (run / "train").mkdir()
    old = {"best_checkpoint": "checkpoint-6", "best_dev_loss": 4.0, "best_dev_ppl": 54.6}
    (run / "train" / "summary.json").write_text(json.dumps(old))
    assert exported_checkpoint(read_summary(run)) == ("checkpoint-6", "best", 4.0)
    new = {"select": "last", "selected_checkpoint": "step 12 (the last)", "selected_dev_loss": None}
    assert exported_checkpoint(old | new) == ("step 12 (the last)", "last", None)
    (run / "train" / "summary.json").write_text("{")
    with pytest.raises(BabylmError, match=r"summary.json: not valid JSON"):
        read_summary(run)

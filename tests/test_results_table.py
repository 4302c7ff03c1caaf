"""scripts/results_table.py: the "reproduce" commands in RESULTS.md rebuild each run's config."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from babylm.config import load_config
from scripts import results_table

RESULTS = Path(__file__).resolve().parents[1] / "results"
RUNS = sorted(p for p in RESULTS.iterdir() if (p / "config.yaml").is_file())


@pytest.mark.parametrize("folder", RUNS, ids=[p.name for p in RUNS])
def test_reproduce_command_rebuilds_the_runs_config(folder: Path) -> None:
    config = results_table.run_config(folder)
    argv = shlex.split(results_table.reproduce(config, folder.name).strip("`"))
    assert argv[:2] == ["babylm", "run"]
    preset, rest = argv[2], argv[3:]
    sets = [rest[i + 1] for i, flag in enumerate(rest) if flag == "--set"]
    run_dir = [rest[i + 1] for i, flag in enumerate(rest) if flag == "--run-dir"]
    assert run_dir == ([] if folder.name == preset else [f"runs/{folder.name}"])
    rebuilt = load_config(preset, sets).to_dict()
    assert results_table.comparable(rebuilt, with_eval=True) == results_table.comparable(
        config, with_eval=True
    )


def test_a_key_added_after_the_run_is_reset_to_what_the_run_had(tmp_path: Path) -> None:
    # A run from before corpus.normalize existed trained on raw text; the preset now normalises.
    config = load_config("plus-22m").to_dict()
    del config["corpus"]["normalize"]
    folder = tmp_path / "old-run"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    command = results_table.reproduce(results_table.run_config(folder), folder.name)
    assert "--set 'corpus.normalize=[]'" in command
    assert "--run-dir runs/old-run" in command


def test_the_table_in_results_md_is_the_one_the_files_give(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """RESULTS.md's table is derived, not typed: regenerate it after adding a run."""
    monkeypatch.chdir(RESULTS.parent)
    results_table.main(sorted(p for p in Path("results").iterdir() if (p / "blimp.json").is_file()))
    printed = capsys.readouterr().out.strip().splitlines()
    text = (RESULTS.parent / "RESULTS.md").read_text(encoding="utf-8").splitlines()
    start = text.index(printed[0])
    assert text[start : start + len(printed)] == printed


def test_time_to_quality_is_the_first_epoch_end_at_the_reference_figure(tmp_path: Path) -> None:
    import json

    assert results_table.time_to_reference(tmp_path) == "not measured"
    points = [
        {"step": 10, "tokens_seen": 500_000, "overall": 0.55},
        {"step": 20, "tokens_seen": 1_000_000, "overall": 0.5721},
        {"step": 30, "tokens_seen": 1_500_000, "overall": 0.58},
    ]
    (tmp_path / "learning_curve.json").write_text(json.dumps({"points": points}))
    logs = [{"step": 20, "loss": 3.0, "elapsed_s": 60.0}, {"step": 20, "epoch": 2.0, "eval_loss":
            4.0, "elapsed_s": 1500.0}]  # fmt: skip
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in logs))
    assert results_table.time_to_reference(tmp_path) == "epoch 2 (1.00M tokens, 25 min)"
    points[1]["overall"] = points[2]["overall"] = 0.5719
    (tmp_path / "learning_curve.json").write_text(json.dumps({"points": points}))
    assert results_table.time_to_reference(tmp_path) == "not reached (best 57.19)"


def test_minutes_on_an_accelerator_are_marked_as_such(tmp_path: Path) -> None:
    """A run trained on a lent GPU must not read as 8 minutes of the 2 CPU cores."""
    import shutil

    for name, run in (("cpu", "plus-s1"), ("gpu", "plus-8ep")):
        (tmp_path / name).mkdir()
        shutil.copy(RESULTS.parent / "results" / run / "summary.json", tmp_path / name)
    assert results_table.on_accelerator(tmp_path / "cpu") == ""
    assert results_table.on_accelerator(tmp_path / "gpu") == " on NVIDIA H200"

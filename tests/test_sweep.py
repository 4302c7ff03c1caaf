"""scripts/sweep.py: several runs in one go, failures recorded, results collected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import sweep


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_sweep_runs_each_variant_records_failures_and_collects_results(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "tiny.yaml",
        "base: smoke\n"
        "stages: corpus,tokenizer,train,eval\n"
        "set: [train.max_steps=4, train.eval_steps=2, eval.per_paradigm=2]\n"
        "runs:\n"
        "  isolated: [train.packing=isolated]\n"
        "  broken: [train.packing=zip]\n",
    )
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = [str(spec), "--runs-root", str(runs), "--results", str(results), "--jobs", "2"]
    assert sweep.main([*argv, "--learning-curve"]) == 1  # one run failed, both ran at once

    record = json.loads((runs / "tiny.json").read_text())
    by_name = {r["run"]: r for r in record["runs"]}
    ok, broken = by_name["isolated"], by_name["broken"]
    assert ok["status"] == "ok" and ok["pairs"] == 2 * 67 and 0 <= ok["blimp"] <= 100
    assert broken["status"].startswith("failed (exit 2")
    assert "train.packing" in (runs / "broken.log").read_text()
    summary = json.loads((results / "isolated" / "summary.json").read_text())
    assert summary["packing"] == "isolated" and summary["optimizer_steps"] == 4
    blimp = json.loads((results / "isolated" / "blimp.json").read_text())
    assert round(100 * blimp["overall"], 2) == ok["blimp"]
    assert not (results / "broken").exists()
    curve = json.loads((results / "isolated" / "learning_curve.json").read_text())
    assert curve["run"] == str(runs / "isolated")


def test_a_sweep_past_its_start_deadline_starts_nothing(tmp_path: Path) -> None:
    spec = write(tmp_path / "late.yaml", "base: smoke\nruns:\n  a: []\n  b: []\n")
    argv = [str(spec), "--runs-root", str(tmp_path / "runs"), "--start-until", "0"]
    assert sweep.main(argv) == 1
    record = json.loads((tmp_path / "runs" / "late.json").read_text())
    assert [r["status"] for r in record["runs"]] == ["not started (--start-until)"] * 2
    assert not (tmp_path / "runs" / "a").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runs: {}\n", "non-empty 'runs'"),
        ("base: smoke\nrun: {a: []}\n", "non-empty 'runs'"),
        ("runs: {a: []}\nseeds: 3\n", "unknown keys ['seeds']"),
        ("runs: {a: [lr]}\n", "runs.a: expected a list of section.key=value"),
        ("runs: [a\n", "tiny.yaml"),
    ],
)
def test_a_malformed_sweep_file_is_a_one_line_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        sweep.load_sweep(write(tmp_path / "tiny.yaml", text))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "sweep_file",
    sorted(p.name for p in (Path(__file__).resolve().parents[1] / "sweeps").glob("*.yaml")),
)
def test_the_shipped_sweep_names_valid_overrides(sweep_file: str) -> None:
    """Every run of a shipped sweep resolves to a valid config; all but teachers <= 27M
    parameters; students name teachers that the sweep trains before them."""
    from babylm.config import load_config
    from babylm.model import config_for_preset, parameter_counts

    spec = sweep.load_sweep(Path(__file__).resolve().parents[1] / "sweeps" / sweep_file)
    done: list[str] = []
    for name, sets in spec["runs"].items():
        cfg = load_config(spec["base"], [*spec["set"], *(sets or []), f"name={name}"])
        if not name.startswith("teacher"):
            assert parameter_counts(config_for_preset(cfg)).total <= 27_000_000, name
        for teacher in cfg.train.distill_from:
            assert Path(teacher).parent == Path("runs") and Path(teacher).name in done, name
        done.append(name)

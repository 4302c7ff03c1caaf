"""scripts/learning_curve.py: epoch ends read from the checkpoints, points already scored kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from scripts import learning_curve


def fake_run(run: Path, epochs: dict[int, float]) -> None:
    """A run folder still training: no train/summary.json, checkpoints at the given steps."""
    (run / "train").mkdir(parents=True)
    lines = [json.dumps({"step": s, "tokens_seen": 100 * s}) for s in epochs]
    (run / "train" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    for step, epoch in epochs.items():
        folder = run / "checkpoints" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        state = {"global_step": step, "epoch": epoch}
        (folder / "trainer_state.json").write_text(json.dumps(state))
        (folder / "model.safetensors").write_bytes(b"w" * step)
    (run / "checkpoints" / "checkpoint-99").mkdir()  # being written: no state, no weights


def test_epoch_ends_come_from_each_checkpoints_state(tmp_path: Path) -> None:
    fake_run(tmp_path, {10: 0.5, 20: 1.0, 30: 1.5, 40: 2.0})
    every = learning_curve.saved_checkpoints(tmp_path)
    assert [c["step"] for c in every] == [10, 20, 30, 40]
    ends = learning_curve.saved_checkpoints(tmp_path, epoch_ends=True)
    assert [(c["step"], c["epoch"]) for c in ends] == [(20, 1.0), (40, 2.0)]


def test_a_rerun_scores_only_new_or_changed_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, out = tmp_path / "run", tmp_path / "out"
    fake_run(run, {20: 1.0, 40: 2.0})
    scored: list[str] = []

    def fake_score(path: Path, pairs: dict) -> SimpleNamespace:
        scored.append(path.name)
        accuracy = 0.5 + len(scored) / 100
        blimp = {"overall": accuracy, "macro": accuracy, "n_pairs": len(pairs["blimp"])}
        return SimpleNamespace(results={"blimp": blimp})

    monkeypatch.setattr(learning_curve, "score_pairs", fake_score)
    monkeypatch.setattr(learning_curve, "blimp_pairs", lambda per_paradigm: [0] * 67 * per_paradigm)
    argv = ["learning_curve", str(run), "--epoch-ends", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    learning_curve.main()
    assert scored == ["checkpoint-20", "checkpoint-40"]

    new = run / "checkpoints" / "checkpoint-60"
    new.mkdir()
    (new / "trainer_state.json").write_text(json.dumps({"global_step": 60, "epoch": 3.0}))
    (new / "model.safetensors").write_bytes(b"w" * 60)
    (run / "checkpoints" / "checkpoint-40" / "model.safetensors").write_bytes(b"v" * 41)
    learning_curve.main()
    assert scored == ["checkpoint-20", "checkpoint-40", "checkpoint-40", "checkpoint-60"]
    points = json.loads((out / "learning_curve.json").read_text())["points"]
    assert [(p["step"], p["epoch"], p["overall"]) for p in points] == [
        (20, 1.0, 0.51),
        (40, 2.0, 0.53),
        (60, 3.0, 0.54),
    ]

    monkeypatch.setattr(sys, "argv", [*argv, "--per-paradigm", "5"])  # other pairs: all again
    learning_curve.main()
    assert len(scored) == 7

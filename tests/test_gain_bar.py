"""scripts/gain_bar.py: issue 18's bar for a gain (twice the seed spread and McNemar p < 0.01)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from scripts import gain_bar


def _run(root: Path, name: str, right: int, n: int = 67_000) -> Path:
    """A results folder whose first ``right`` of ``n`` pairs are right, the rest wrong."""
    folder = root / name
    folder.mkdir()
    rows = [
        {"task": "blimp", "paradigm": "p", "pair_id": str(i), "good": -1.0, "bad": -2.0}
        if i < right
        else {"task": "blimp", "paradigm": "p", "pair_id": str(i), "good": -2.0, "bad": -1.0}
        for i in range(n)
    ]
    (folder / "pairs.jsonl.gz").write_bytes(
        gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    )
    blimp = {
        "protocol": "standard",
        "n_pairs": n,
        "overall": right / n,
        "macro": right / n,
        "paradigms": {"p": {"acc": right / n, "field": "syntax"}},
        "fields": {"syntax": {"acc": right / n}},
        "terms": {"t": {"acc": right / n}},
    }
    (folder / "blimp.json").write_text(json.dumps(blimp))
    return folder


def test_a_gain_passes_only_above_twice_the_spread_and_with_mcnemar(tmp_path: Path) -> None:
    seeds = [_run(tmp_path, "s42", 33_500), _run(tmp_path, "s1", 34_170)]  # 50.0%, 51.0%
    spread = gain_bar.seed_spread(seeds)
    assert abs(spread["spread"] - 0.01) < 1e-12 and abs(spread["mean"] - 0.505) < 1e-12
    assert abs(spread["per_term"]["t"] - 0.01) < 1e-4
    [(a, b, only_a, only_b, p)] = spread["between"]  # the first 33,500 pairs are right in both
    assert (a, b, only_a, only_b) == ("s42", "s1", 0, 670) and p < 1e-100
    big = gain_bar.judge(_run(tmp_path, "big", 36_180), seeds[0], spread["mean"], 0.01)  # 54%
    assert big["verdict"] == "**passes**" and big["only_mine"] == 2_680 and big["p"] < 1e-100
    small = gain_bar.judge(_run(tmp_path, "small", 34_840), seeds[0], spread["mean"], 0.01)
    assert small["verdict"] == "no" and small["p"] < 0.01  # significant, but within 2x spread
    subset = gain_bar.judge(_run(tmp_path, "sub", 6_000, n=6_700), seeds[0], 0.5, 0.0)
    assert subset["verdict"].startswith("not judged")
    text = gain_bar.report(seeds, [tmp_path / "big", tmp_path / "small"])
    assert "spread 1.00 points" in text and "| big | 54.00 | +3.50 |" in text
    assert "| s42 / s1 | 0 / 670 |" in text


def test_a_control_of_the_runs_own_schedule_adds_its_difference_and_p(tmp_path: Path) -> None:
    seeds = [_run(tmp_path, "s42", 33_500), _run(tmp_path, "s1", 34_170)]
    control = _run(tmp_path, "ctl", 33_835)  # 50.5%
    k = gain_bar.against_control(_run(tmp_path, "big", 36_180), control)
    assert abs(k["diff"] - 0.035) < 1e-12 and (k["only_mine"], k["only_control"]) == (2_345, 0)
    assert k["p"] < 1e-100
    text = gain_bar.report(seeds, [tmp_path / "big"], control)
    assert "| vs ctl | McNemar p vs ctl |" in text and "| +3.50 | 0 |" in text
    assert "| big | 54.00 | +3.50 |" in gain_bar.report(seeds, [tmp_path / "big"])

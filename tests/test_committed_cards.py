"""The committed model cards describe their runs as the runs' own files do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

RESULTS = Path(__file__).resolve().parents[1] / "results"
CARDS = sorted(p.parent for p in RESULTS.glob("*/MODEL_CARD.md"))


@pytest.mark.parametrize("folder", CARDS, ids=[p.name for p in CARDS])
def test_a_cards_description_agrees_with_its_config_and_summary(folder: Path) -> None:
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    text = config["description"]
    assert text in card
    model, train = config["model"], config["train"]
    for k in re.findall(r"(\d+)k vocabulary", text):
        assert int(k) == config["tokenizer"]["vocab_size"] // 1000
    for layers in re.findall(r"(\d+) layers", text):
        assert int(layers) == model["num_layers"]
    for ratio, steps in re.findall(r"(\d+)x the optimizer steps per epoch of a-26m \((\d+)", text):
        assert int(steps) == summary["steps_per_epoch"]
        assert int(ratio) == round(summary["steps_per_epoch"] / 83)
    for dropout, epochs in re.findall(r"dropout ([\d.]+) and ([\d.]+) epochs", text):
        assert float(dropout) == model["dropout"] and float(epochs) == train["epochs"]
    assert not re.search(r"\d+x more optimizer steps|dropout and \d+ epochs", text)


def test_the_a_26m_readme_counts_the_pairs_of_its_pair_file() -> None:
    import gzip

    folder = RESULTS / "a-26m"
    n = len(gzip.decompress((folder / "pairs.jsonl.gz").read_bytes()).splitlines())
    assert f"per-pair log-probabilities, {n:,} pairs" in (folder / "README.md").read_text()


@pytest.mark.parametrize(
    "report", sorted(RESULTS.glob("*/compare*/report.md")), ids=lambda p: p.parent.as_posix()
)
def test_committed_comparisons_say_how_many_supplement_pairs_each_score_is_over(
    report: Path,
) -> None:
    rows = [r for r in report.read_text().splitlines() if r.startswith("| BLiMP supplement")]
    assert len(rows) == 1 and rows[0].startswith("| BLiMP supplement (pairs) |")
    cells = [c.strip() for c in rows[0].strip("|").split("|")[1:]]
    assert any(cells)
    assert all(re.fullmatch(r"\d+\.\d \((464|5,218)\)", c) for c in cells if c)

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


@pytest.mark.parametrize("folder", CARDS, ids=[p.name for p in CARDS])
def test_a_cards_epochs_and_dropout_are_its_configs(folder: Path) -> None:
    """The training table's epochs row (``summary.json``'s epochs, as ``build_card`` writes it)
    and every epochs or dropout figure anywhere on the card are the run's ``config.yaml``."""
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    epochs, dropout = config["train"]["epochs"], config["model"]["dropout"]
    assert summary["epochs"] == epochs
    rows = re.findall(r"^\| epochs \| (.*) \|$", card, flags=re.MULTILINE)
    assert rows == [f"{epochs:g}"]
    for figure in re.findall(r"([\d.]+) epochs\b", card):
        assert float(figure) == epochs
    for figure in re.findall(r"\bdropout ([\d.]+)", card):
        assert float(figure) == dropout


@pytest.mark.parametrize("folder", CARDS, ids=[p.name for p in CARDS])
def test_a_card_states_its_own_supplement_score(folder: Path) -> None:
    """Every committed card has the run's own BLiMP supplement line, formatted as ``build_card``
    formats ``supplement.json`` (``export.pct``: one decimal and a % sign)."""
    from babylm.tables import percent

    supplement = json.loads((folder / "supplement.json").read_text(encoding="utf-8"))
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    lines = [line for line in card.splitlines() if line.startswith("BLiMP supplement")]
    assert lines == [
        f"BLiMP supplement (BabyLM): {percent(supplement['overall'], sign=True)}"
        f" over {supplement['n_pairs']:,} pairs."
    ]


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
    """Every run compared has its supplement score and pair count; only the published rows
    (which have no supplement score) leave the cell blank."""
    from babylm.data import BLIMP_PAPER_MODELS, REFERENCE_MODELS

    published = {*BLIMP_PAPER_MODELS.values(), "human", *REFERENCE_MODELS.values()}
    lines = report.read_text().splitlines()
    headers = [r for r in lines if r.startswith("|  |")]
    rows = [r for r in lines if r.startswith("| BLiMP supplement")]
    assert len(headers) == 1 and len(rows) == 1
    assert rows[0].startswith("| BLiMP supplement (pairs) |")
    columns = [c.strip() for c in headers[0].strip("|").split("|")[1:]]
    cells = [c.strip() for c in rows[0].strip("|").split("|")[1:]]
    assert set(columns) - published
    for column, cell in zip(columns, cells, strict=True):
        if column in published:
            assert cell == "", column
        else:
            assert re.fullmatch(r"\d+\.\d \((464|5,218)\)", cell), column

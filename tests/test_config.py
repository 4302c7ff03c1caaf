"""Presets, overrides and the one-line errors for invalid configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from babylm.config import DEFAULT_PRESET, Config, list_presets, load_config
from babylm.errors import BabylmError
from babylm.model import config_for_preset


def test_presets_are_shipped() -> None:
    shipped = {"plus-22m", "a-26m", "reference-a", "b-66m", "reference-b", "smoke"}
    assert shipped <= set(list_presets())


def test_the_default_job_is_the_best_recipe_on_every_pair(cli, monkeypatch, tmp_path) -> None:
    """``babylm run`` with no preset trains plus-22m (58.4% on all of BLiMP, a-26m 53.7%) and
    scores all 67,000 BLiMP pairs, the supplement and the BabyLM suite's embedded tasks (the
    whole suite with eval.data_dir); its name says its size."""
    from babylm import cli as cli_module
    from babylm import pipeline
    from babylm.model import parameter_counts

    assert DEFAULT_PRESET == "plus-22m"
    cfg = load_config(DEFAULT_PRESET)
    assert parameter_counts(config_for_preset(cfg)).total == 21_952_896
    assert cfg.eval.is_full() and cfg.eval.tasks == ["blimp", "supplement", "babylm"]
    # `babylm run --help` names it as the default (rich may wrap the line inside its box).
    help_text = " ".join(cli("run", "--help").out.replace("│", " ").split())
    assert f"[default: {DEFAULT_PRESET}]" in help_text
    # And `babylm run` with no argument runs every stage, eval included, of that very config.
    calls = []

    def record(cfg, run_dir, stages, force):
        calls.append((cfg, run_dir, stages, force))
        return tmp_path

    monkeypatch.setattr(cli_module, "_run_stages", record)
    monkeypatch.setattr(pipeline, "run_summary", lambda directory: "summary")
    assert cli("run").code == 0
    assert calls == [(cfg, None, list(pipeline.STAGES), False)]
    assert pipeline.default_run_dir(cfg) == Path("runs") / DEFAULT_PRESET


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_loads_and_builds_a_model_config(preset: str) -> None:
    cfg = load_config(preset)
    assert cfg.name == preset
    assert cfg.description
    llama = config_for_preset(cfg)
    assert llama.hidden_size % llama.num_attention_heads == 0
    assert llama.vocab_size >= 256


def test_overrides_are_coerced_to_field_types() -> None:
    cfg = load_config(
        "smoke",
        [
            "train.lr=1e-3",
            "corpus.sources=simple_wiki,bnc_spoken",
            "model.vocab_size=1200",
            "train.max_steps=null",
            "corpus.clean=false",
            "name=mine",
        ],
    )
    assert cfg.train.lr == pytest.approx(1e-3) and isinstance(cfg.train.lr, float)
    assert cfg.corpus.sources == ["simple_wiki", "bnc_spoken"]
    assert cfg.model.vocab_size == 1200
    assert cfg.train.max_steps is None
    assert cfg.corpus.clean is False
    assert cfg.name == "mine"


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    cfg = load_config("reference-a", ["train.seed=7"])
    path = tmp_path / "resolved.yaml"
    path.write_text(cfg.to_yaml(), encoding="utf-8")
    again = load_config(str(path))
    assert again == cfg
    assert isinstance(again, Config)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("model.num_heads=5", "model.num_heads"),
        ("tokenizer.vocab_size=200", "tokenizer.vocab_size"),
        ("corpus.sources=simple_wiki,klingon", "corpus.sources"),
        ("model.hidden=10", "model.hidden"),
        ("modle.hidden_size=10", "modle.hidden_size"),
        ("corpus.total_bytes=10000000", "corpus.total_bytes"),
        ("corpus.dev_bytes=900000", "corpus.dev_bytes"),
        ("train.packing=zip", "train.packing"),
        ("train.select=first", "train.select"),
        ("train.lr=fast", "train.lr"),
        ("train.seq_len=4096", "train.seq_len"),
        ("corpus.clean=maybe", "corpus.clean"),
        ("model.num_kv_heads=4", "model.num_kv_heads"),
    ],
)
def test_invalid_values_fail_before_any_work(
    cli, tmp_path: Path, override: str, field: str
) -> None:
    run_dir = tmp_path / "run"
    result = cli("run", "a-26m", "--run-dir", str(run_dir), "--set", override)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert field in lines[0]
    assert not run_dir.exists()


def test_model_b_on_embedded_data_asks_for_a_babylm_folder(cli, tmp_path: Path) -> None:
    for preset in ("b-66m", "reference-b"):
        result = cli("run", preset, "--run-dir", str(tmp_path / preset))
        assert result.code == 2
        assert "needs a BabyLM folder with more text" in result.err
        assert "corpus.data_dir" in result.err
        assert not (tmp_path / preset).exists()


def test_broken_yaml_names_file_and_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  hidden_size: 64\n  num_layers: [1\n", encoding="utf-8")
    result = cli("model-info", str(path))
    assert result.code == 2
    assert f"{path}:" in result.err and "invalid YAML" in result.err


def test_unknown_top_level_key_in_file(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("modell:\n  hidden_size: 64\n", encoding="utf-8")
    with pytest.raises(BabylmError, match="unknown key 'modell'"):
        load_config(str(path))


def test_unknown_preset(cli) -> None:
    result = cli("model-info", "nope-1b")
    assert result.code == 2
    assert "unknown preset 'nope-1b'" in result.err

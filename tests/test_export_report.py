"""Model card, generation, comparison reports and the run summary, on a real smoke run."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from babylm.evaluation import pair_credit
from babylm.export import build_card
from babylm.report import mcnemar_p, published_entries
from babylm.runfolder import RunFolder


def card_parts(text: str) -> tuple[dict, str]:
    _, meta, body = text.split("---\n", 2)
    return yaml.safe_load(meta), body


def test_the_card_numbers_are_the_run_files_numbers(smoke_run: tuple[Path, str]) -> None:
    run_dir, _ = smoke_run
    meta, body = card_parts((run_dir / "model" / "README.md").read_text())
    blimp = json.loads((run_dir / "eval" / "blimp.json").read_text())
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    corpus = json.loads((run_dir / "corpus" / "manifest.json").read_text())
    assert meta["license"] == "cc-by-sa-4.0" and meta["pipeline_tag"] == "text-generation"
    assert {"babylm", "llama", "causal-lm", "small-model"} <= set(meta["tags"])
    (result,) = meta["model-index"][0]["results"]
    assert result["metrics"][0]["value"] == round(100 * blimp["overall"], 2)
    assert f"**BLiMP: {100 * blimp['overall']:.1f}%** over {blimp['n_pairs']:,}" in body
    assert f"(macro over paradigms {100 * blimp['macro']:.1f}%)" in body
    assert f"| parameters | {summary['parameters']:,} |" in body
    assert f"| tokens seen | {summary['tokens_seen']:,} |" in body
    assert f"| optimizer steps | {summary['optimizer_steps']:,} |" in body
    assert f"{summary['best_dev_loss']:.4f} / {summary['best_dev_ppl']:.1f}" in body
    loss = summary["best_dev_loss"]
    chosen = f"{summary['selected_checkpoint']} (lowest dev loss, dev loss {loss:.4f})"
    assert f"| exported weights | {chosen} |" in body
    assert f"| wall time | {summary['wall_time_s']:,.0f} s" in body
    for name, source in corpus["train"]["sources"].items():
        assert f"| {name} | {source['raw_bytes']:,} | {source['bytes']:,} |" in body
    for field, res in blimp["fields"].items():
        assert f"| {field} | {100 * res['acc']:.1f}% | {res['n']:,} |" in body
    worst = min(blimp["paradigms"].items(), key=lambda kv: kv[1]["acc"])
    assert f"{worst[0]} {100 * worst[1]['acc']:.1f}%" in body.split("Weakest paradigms:")[1]


def test_the_card_follows_the_files_it_is_built_from(
    smoke_run: tuple[Path, str], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run[0], run_dir, ignore=shutil.ignore_patterns("checkpoints"))
    blimp_file = run_dir / "eval" / "blimp.json"
    blimp = json.loads(blimp_file.read_text())
    blimp["overall"] = 0.6789
    blimp_file.write_text(json.dumps(blimp))
    run = RunFolder(run_dir)
    meta, body = card_parts(build_card(run, run.read_config()))
    assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == 67.89
    assert "**BLiMP: 67.9%**" in body
    shutil.rmtree(run_dir / "eval")
    meta, body = card_parts(build_card(run, run.read_config()))
    assert "model-index" not in meta and "has not been evaluated" in body


def test_the_exported_folder_loads_offline_and_export_is_resumable(
    cli, smoke_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, _ = smoke_run
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    AutoTokenizer.from_pretrained(str(run_dir / "model"))
    AutoModelForCausalLM.from_pretrained(str(run_dir / "model"))
    manifest = json.loads((run_dir / "export" / "manifest.json").read_text())
    assert "README.md" in manifest["model_files"] and "model.safetensors" in manifest["model_files"]
    again = cli("export", str(run_dir))
    assert again.code == 0 and "export     up to date, skipped" in again.out
    missing = cli("export", str(run_dir / "nope"))
    assert missing.code == 2 and "not a run folder" in missing.err


def test_generate_is_reproducible_by_seed(cli, smoke_run: tuple[Path, str]) -> None:
    run_dir, _ = smoke_run
    args = ["generate", str(run_dir), "The cat", "--max-new-tokens", "8"]
    first, second = cli(*args, "--seed", "1"), cli(*args, "--seed", "1")
    assert first.code == 0 and first.out == second.out and first.out.startswith("The cat")
    greedy = cli(*args, "--temperature", "0")
    assert greedy.code == 0 and greedy.out == cli(*args, "--temperature", "0").out
    two = cli(*args, "--num-samples", "2")
    assert two.out.count("--- sample") == 2
    bad = cli(*args, "--top-p", "0")
    assert bad.code == 2 and "--top-p" in bad.err


def test_published_rows_match_the_paper() -> None:
    rows = {e.name: e for e in published_entries()}
    # Means over the 67 paradigms, as the BLiMP paper's repository summarises them.
    expected = {"5-gram": 61.2, "LSTM": 69.8, "Transformer-XL": 69.6, "GPT-2": 83.0, "human": 88.6}
    for name, overall in expected.items():
        assert len(rows[name].paradigms) == 67
        assert round(100 * rows[name].overall, 1) == overall
    assert round(100 * rows["GPT-2"].terms["island_effects"], 1) == 72.7
    assert round(100 * rows["reference 26M (2 MB)"].overall, 1) == 57.2
    assert round(100 * rows["reference 66M (10 MB)"].overall, 1) == 61.6


def test_report_is_self_contained(smoke_run: tuple[Path, str]) -> None:
    run_dir, _ = smoke_run
    report = run_dir / "report"
    for name in ("report.md", "report.html", "terms.png", "paradigms.png", "loss.png"):
        assert (report / name).is_file(), name
    page = (report / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=['\"]?(https?:|/|\.\./)", page)
    md = (report / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("|  |"))
    assert "run" in header and "GPT-2" in header and "reference 26M (2 MB)" in header
    blimp = json.loads((run_dir / "eval" / "blimp.json").read_text())
    overall_row = next(line for line in md.splitlines() if line.startswith("| **overall**"))
    assert overall_row.split(" | ")[1] == f"{100 * blimp['overall']:.1f}"


def _credits(path: Path) -> dict:
    rows = [json.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]
    return {
        (r["paradigm"], r["pair_id"]): pair_credit(r["good"], r["bad"], "standard") for r in rows
    }


def test_compare_counts_pair_by_pair_agreement(
    cli, smoke_run: tuple[Path, str], tiny_model_dir: Path, tmp_path: Path
) -> None:
    run_dir, _ = smoke_run
    other = tmp_path / "other-eval"
    scored = cli(
        "eval", str(tiny_model_dir), "--tasks", "blimp", "--per-paradigm", "10", "--out", str(other)
    )
    assert scored.code == 0, scored.err
    out = tmp_path / "cmp"
    result = cli("compare", str(run_dir), str(other), "--out", str(out), "--no-published")
    assert result.code == 0, result.err
    assert (out / "agreement.png").is_file()
    md = (out / "report.md").read_text()
    a, b = _credits(run_dir / "eval" / "pairs.jsonl.gz"), _credits(other / "pairs.jsonl.gz")
    only_a = sum(a[k] == 1.0 and b[k] != 1.0 for k in a)
    only_b = sum(b[k] == 1.0 and a[k] != 1.0 for k in a)
    assert f"only run {only_a:,}, only other-eval {only_b:,}" in md
    assert f"McNemar test of the difference: p = {mcnemar_p(only_a, only_b):.3g}" in md
    assert "GPT-2" not in md
    named = cli("compare", f"tiny={other}", str(run_dir), "--out", str(out), "--no-published")
    assert named.code == 0, named.err
    assert "only tiny " in (out / "report.md").read_text()
    missing = cli("compare", str(tmp_path / "nothing"), "--out", str(tmp_path / "x"))
    assert missing.code == 2 and "no blimp.json" in missing.err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("only_a", "only_b", "p"),
    [(0, 0, 1.0), (5, 5, 1.0), (0, 10, 2 * 0.5**10), (10, 0, 2 * 0.5**10), (1, 9, 22 * 0.5**10)],
)
def test_mcnemar_p_is_the_exact_binomial_tail(only_a: int, only_b: int, p: float) -> None:
    assert mcnemar_p(only_a, only_b) == pytest.approx(p, rel=1e-9)


def test_mcnemar_p_on_blimp_sized_counts() -> None:
    # 380 vs 444 discordant pairs (plus-isolated against a-26m-plus): normal approx. p ~ 0.028.
    assert 0.02 < mcnemar_p(380, 444) < 0.035
    assert mcnemar_p(5000, 5000) == pytest.approx(1.0)


def test_run_ends_with_a_one_screen_summary(smoke_run: tuple[Path, str]) -> None:
    run_dir, out = smoke_run
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    tail = out[out.index("run folder") :]
    assert f"parameters {summary['parameters']:,}" in tail
    assert "BLiMP overall" in tail and "macro" in tail
    assert str(run_dir / "model" / "README.md") in tail
    assert str(run_dir / "report" / "report.html") in tail


def test_the_cards_usage_code_runs_as_written(
    smoke_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run_dir, _ = smoke_run
    _, body = card_parts((run_dir / "model" / "README.md").read_text())
    code = body.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(run_dir / "model")  # the card says: path = "." (this folder)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("Once upon a time")
    assert float(printed[-1]) < 0  # a log-probability


def test_the_supplement_row_says_how_many_pairs_each_score_is_over() -> None:
    from babylm.report import Entry, comparison_table

    def entry(name: str, score: float | None, pairs: int | None) -> Entry:
        return Entry(
            name, 0.5, 0.5, {}, {}, {}, 6700, "standard", supplement=score, supplement_pairs=pairs
        )

    full, subset, none = entry("a", 0.743, 5218), entry("b", 0.5388, 464), entry("c", None, None)
    _, rows = comparison_table([full, subset, none])
    assert rows[-1] == ["BLiMP supplement (pairs)", "74.3 (5,218)", "53.9 (464)", ""]

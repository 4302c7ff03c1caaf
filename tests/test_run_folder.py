"""A run folder has one writer, and a quick evaluation never replaces the run's own results."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
from babylm.runfolder import writer_lock
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


def test_eval_without_a_selection_is_the_runs_eval_stage(cli, run: Path) -> None:
    """Whatever the run's tasks (the smoke preset's: BLiMP alone, 10 per paradigm), ``babylm
    eval RUN`` with no selection is its eval stage, not the CLI's default tasks."""
    stage = run / "eval"
    before = {p.name: p.read_bytes() for p in stage.iterdir()}
    plain = cli("eval", str(run))
    assert plain.code == 0, plain.err
    assert "up to date, skipped" in plain.out and "(the run's eval stage)" in plain.out
    assert {p.name: p.read_bytes() for p in stage.iterdir()} == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("eval-")) == []


def test_a_bad_pairs_folder_stops_the_run_before_any_work(cli, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    missing = tmp_path / "no-such-pairs"
    res = cli("run", "smoke", "--run-dir", str(folder), "--set", f"eval.pairs_dirs=[{missing}]")
    assert res.code == 2
    assert res.err.strip() == (
        f"babylm: error: eval.pairs_dirs: {missing}: no such folder of minimal pairs"
    )
    assert not folder.exists()  # stopped before the corpus, before the folder was made


def test_model_and_run_folders(tmp_path: Path) -> None:
    from babylm.errors import BabylmError
    from babylm.runfolder import RunFolder, model_folder, run_of

    run = tmp_path / "r"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    assert model_folder(run) == run / "model" and run_of(run) == RunFolder(run)
    assert model_folder(run / "model") == run / "model" and run_of(run / "model") is None
    with pytest.raises(BabylmError, match="neither a run folder nor a Hugging Face model"):
        model_folder(tmp_path)


COMMITTED = sorted((ROOT / "results").glob("*/summary.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_every_committed_summary_reads_typed_and_writes_back_the_same(
    path: Path, tmp_path: Path
) -> None:
    from babylm.runfolder import read_summary, write_summary

    summary = read_summary(path)
    assert summary is not None
    write_summary(tmp_path / "summary.json", summary)
    assert (tmp_path / "summary.json").read_text() == path.read_text()


def test_the_exported_weights_of_old_and_new_summaries(tmp_path: Path) -> None:
    from babylm.errors import BabylmError
    from babylm.runfolder import RunFolder, TrainSummary

    figures = json.loads((ROOT / "results/a-26m/summary.json").read_text())  # before select
    old = TrainSummary.from_dict(figures)
    assert old.exported == (figures["best_checkpoint"], "best", figures["best_dev_loss"])
    assert old.exported_dev_ppl == figures["best_dev_ppl"]
    new = {"select": "last", "selected_checkpoint": "step 12 (the last)", "selected_dev_loss": None}
    last = TrainSummary.from_dict(figures | new)
    assert last.exported == ("step 12 (the last)", "last", None)
    assert last.exported_dev_ppl is None
    run = RunFolder(tmp_path / "r")
    assert run.read_summary() is None  # not trained yet
    run.summary.parent.mkdir(parents=True)
    run.summary.write_text("{")
    with pytest.raises(BabylmError, match=r"summary.json: not valid JSON"):
        run.read_summary()
    run.summary.write_text(json.dumps({k: v for k, v in figures.items() if k != "tokens_seen"}))
    with pytest.raises(BabylmError, match=r"summary.json: no 'tokens_seen'"):
        run.read_summary()


# What only babylm.runfolder may spell: the run folder's file and folder names, and the keys
# of the train summary (read through TrainSummary's fields everywhere else).
LAYOUT_NAMES = {
    "config.yaml", "summary.json", "metrics.jsonl", "blimp.json", "supplement.json",
    "pairs.jsonl.gz", "manifest.json", "suite.json", "fast.json", "fast_curve.png",
    "results.json", "predictions.json", "learning_curve.json", "index.json", "tokenizer.json",
    "corpus_manifest.json", "tokenizer_manifest.json", "MODEL_CARD.md", "eval-checkpoints",
    "word_checkpoints", "train.txt", "dev.txt", "eval-babylm",
}  # fmt: skip
RUN_SUBFOLDERS = {
    "corpus", "tokenizer", "train", "eval", "export", "report", "model", "checkpoints",
    "word_checkpoints", "eval-checkpoints", "cache", "tb",
}  # fmt: skip
SUMMARY_KEYS = {
    "wall_time_s", "session_wall_time_s", "resumed_from_step", "optimizer_steps",
    "train_seconds", "useful_tokens_per_s", "peak_rss_mb", "final_dev_loss", "final_dev_ppl",
    "best_dev_loss", "best_dev_ppl", "best_checkpoint", "select", "selected_checkpoint",
    "selected_dev_loss", "train_examples", "train_tokens_per_epoch",
    "dev_examples", "torch_threads", "hardware", "parameters",
}  # fmt: skip


def layout_spellings(source: str) -> list[str]:
    """Where ``source`` spells a run-folder path or reads a summary key (docstrings aside)."""
    import ast

    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if id(node) in docstrings or any(c.isspace() for c in text):
                continue  # prose (help texts, messages) may name files
            parts = text.replace("\\", "/").split("/")
            if parts[-1] in LAYOUT_NAMES or (len(parts) > 1 and parts[0] in RUN_SUBFOLDERS):
                found.append(f"line {node.lineno}: {text!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.Constant) and right.value in RUN_SUBFOLDERS:
                found.append(f"line {node.lineno}: / {right.value!r}")
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if node.slice.value in SUMMARY_KEYS:
                found.append(f"line {node.lineno}: [{node.slice.value!r}]")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in SUMMARY_KEYS
        ):
            found.append(f"line {node.lineno}: .get({node.args[0].value!r})")
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    spelled = layout_spellings(
        'a = run / "eval" / "blimp.json"\nb = s["best_dev_loss"]\nc = s.get("hardware")\n'
        'd = "train/summary.json"\ne = "see train/summary.json for figures"\n'
    )
    assert sorted(spelled) == [
        "line 1: 'blimp.json'",
        "line 1: / 'eval'",
        "line 2: ['best_dev_loss']",
        "line 3: .get('hardware')",
        "line 4: 'train/summary.json'",
    ]


def test_only_the_runfolder_package_spells_the_run_folder() -> None:
    sources = [
        p
        for p in [*(ROOT / "src" / "babylm").rglob("*.py"), *(ROOT / "scripts").glob("*.py")]
        if "runfolder" not in p.relative_to(ROOT).parts
    ]
    assert len(sources) > 30
    spelled = {
        str(p.relative_to(ROOT)): found
        for p in sources
        if (found := layout_spellings(p.read_text(encoding="utf-8")))
    }
    assert spelled == {}

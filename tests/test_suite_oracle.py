"""Exactness against the official BabyLM 2025 pipeline (``../shared/oracles``), run in-process.

On a model trained in the test (the smoke run) and small slices of every task (the official
files in ``../shared``, synthetic COMPS and wug_past files in the same formats), the official
code and ``babylm eval --tasks babylm`` must choose the same candidate for every item and give
the same figures (headline, every per-key accuracy, reading's R^2 gains) to 1e-6. Under
``CI=true`` a missing oracle fails the test instead of skipping it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from babylm import word_checkpoints
from babylm.config import EvalConfig
from babylm.evaluation.submission import FAST_TASKS, SUBMISSION_KEYS
from babylm.evaluation.suite_tasks import FOLDERS, OFFICIAL_TASK, select_suite
from babylm.runfolder import RunFolder
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ORACLE = SHARED / "oracles" / "babylm-evaluation-pipeline-2025"
FULL_EVAL = SHARED / "data" / "babylm_eval_2025" / "full_eval"
ORACLE_TASK = {  # ours -> (the official --task, the folder); reading runs by its own script
    task: (OFFICIAL_TASK[task], FOLDERS[task]) for task in OFFICIAL_TASK if task != "reading"
}
LINES_PER_FILE = 12
READING_ROWS = 80


def _oracle() -> Path:
    for module in ("pandas", "scipy", "statsmodels", "aiohttp", "datasets"):
        require(module)
    if not ORACLE.is_dir() or not FULL_EVAL.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{ORACLE} or {FULL_EVAL} is missing: the exactness test must run in CI")
        pytest.skip("the official BabyLM pipeline (../shared/oracles) is not here")
    return ORACLE


def _synthetic(folder: Path) -> None:
    """COMPS and wug_past files in the official formats (neither is in our copy)."""
    comps = folder / "comps"
    comps.mkdir()
    animals = ["dog", "cat", "bird", "horse", "fish", "cow"]
    for name in ("comps_base", "comps_wugs", "comps_wugs_dist-before", "comps_wugs_dist-in"):
        rows = [
            {
                "prefix_acceptable": f"A {a} is an animal that",
                "prefix_unacceptable": f"A {b} is an animal that",
                "property_phrase": "can swim in the water.",
            }
            for a, b in zip(animals, animals[1:] + animals[:1], strict=True)
        ]
        (comps / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    wug = folder / "wug_past_tense"
    wug.mkdir()
    verbs = ["blick", "dax", "fep", "glorp", "zup", "mib", "trunt", "sprack"]
    rows = [
        {
            "sentences": f"Yesterday they {v}ed the box.\tYesterday they {v[:-1]}ought the box.",
            "ratio": round(0.1 + 0.1 * i, 2),
        }
        for i, v in enumerate(verbs)
    ]
    (wug / "wug_past_tense.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def slices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first lines of every official file, in the official layout."""
    _oracle()
    folder = tmp_path_factory.mktemp("full_eval")
    for task_dir in sorted(p for p in FULL_EVAL.iterdir() if p.is_dir()):
        (folder / task_dir.name).mkdir()
        for path in sorted(task_dir.iterdir()):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            keep = READING_ROWS + 1 if path.suffix == ".csv" else LINES_PER_FILE
            (folder / task_dir.name / path.name).write_text("".join(lines[:keep]))
    _synthetic(folder)
    return folder


def _babylm(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "babylm", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def suite_run(slices: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke preset trained for 12 steps with word checkpoints (a "million" shrunk to
    1,000 words, so the tiny corpus reaches two), then ``babylm eval RUN --tasks babylm``,
    ``babylm eval RUN --checkpoints`` and ``babylm submission RUN --allow-missing``."""
    from babylm.cli import main

    run_dir = tmp_path_factory.mktemp("suite") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(word_checkpoints, "WORDS_PER_MARK", 1000)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["run", "smoke", "--run-dir", str(run_dir), "--stages",
                      "corpus,tokenizer,train", "--set", "train.word_checkpoints=true",
                      "--set", "train.max_steps=12"])  # fmt: skip
            except SystemExit as exc:
                assert not exc.code
    assert [n for n, _ in word_checkpoints.list_word_checkpoints(RunFolder(run_dir))] == [1, 2]
    _babylm("eval", str(run_dir), "--tasks", "babylm", "--eval-data", str(slices))
    _babylm("eval", str(run_dir), "--checkpoints", "--eval-data", str(slices))
    _babylm("submission", str(run_dir), "--allow-missing")
    return run_dir


@pytest.fixture(scope="module")
def ours(suite_run: Path) -> Path:
    """The results folder of ``babylm eval RUN --tasks babylm --eval-data SLICES``."""
    return suite_run / "eval-babylm" / "babylm"


def _oracle_sentence_task(
    model_dir: Path, task: str, data: Path, monkeypatch, backend: str = "causal"
) -> tuple:
    """The official scorer, in-process: (accuracies by key, headline, predictions)."""
    monkeypatch.syspath_prepend(str(_oracle()))
    from evaluation_pipeline.sentence_zero_shot import run as official
    from evaluation_pipeline.sentence_zero_shot.compute_results import compute_results
    from evaluation_pipeline.sentence_zero_shot.dataset import get_dataloader

    args = argparse.Namespace(
        data_path=data, task=task, model_path_or_name=str(model_dir), backend=backend,
        images_path=None, image_split=None, image_template=None, revision_name=None,
        min_temperature=1.0, max_temperature=None, temperature_interval=0.05, batch_size=64,
        non_causal_batch_size=64, full_sentence_scores=False, save_predictions=True,
    )  # fmt: skip
    model = official.get_model(args)
    temperatures = official.get_temperatures(args)
    results, predictions = compute_results(args, model, get_dataloader(args), temperatures)
    if "wug" in task:
        accuracies, averages = official.process_results_wug(results)
    else:
        accuracies, averages = official.process_results(args, results)
    t = temperatures[0]
    return accuracies[t], averages[t], predictions[t]


@pytest.mark.slow
@pytest.mark.parametrize("task", list(ORACLE_TASK))
def test_every_choice_and_figure_equals_the_official_pipeline(
    task: str, suite_run: Path, slices: Path, ours: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = suite_run
    oracle_task, folder = ORACLE_TASK[task]
    accuracies, average, official_preds = _oracle_sentence_task(
        run_dir / "model", oracle_task, slices / folder, monkeypatch
    )
    results = json.loads((ours / task / "results.json").read_text())
    preds = json.loads((ours / task / "predictions.json").read_text())
    assert set(preds) == set(official_preds)
    for uid, rows in official_preds.items():
        mine = preds[uid]["predictions"]
        assert [r["id"] for r in mine] == [r["id"] for r in rows["predictions"]]
        assert [r["pred"] for r in mine] == [r["pred"] for r in rows["predictions"]], uid
        if "wug" in task:
            # The official scores are fp32 sums of token log-probabilities: ~1e-5 apart.
            probs = [r["prob"] for r in rows["predictions"]]
            assert [r["prob"] for r in mine] == pytest.approx(probs, abs=1e-5)
    if "wug" in task:
        assert results["rho"] == pytest.approx(average, abs=1e-6)
        return
    assert results["headline"] == pytest.approx(average, abs=1e-6)
    for key, by_value in accuracies.items():
        for value, acc in by_value.items():
            if key == "UID" and value in results.get("splits", {}):
                assert results["splits"][value] == pytest.approx(acc, abs=1e-6)
            else:
                assert results["by"][key][value]["acc"] == pytest.approx(acc, abs=1e-6)


@pytest.mark.slow
def test_reading_surprisals_and_r2_gains_equal_the_official_pipeline(
    suite_run: Path, slices: Path, ours: Path, tmp_path: Path
) -> None:
    run_dir = suite_run
    env = {**os.environ, "PYTHONPATH": str(_oracle())}
    done = subprocess.run(
        [sys.executable, "-m", "evaluation_pipeline.reading.run", "--model_path_or_name",
         str(run_dir / "model"), "--backend", "causal", "--data_path",
         str(slices / "reading" / "reading_data.csv"), "--output_dir", str(tmp_path)],
        capture_output=True, text=True, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    official = json.loads(next(tmp_path.rglob("predictions.json")).read_text())
    mine = json.loads((ours / "reading" / "predictions.json").read_text())
    rows, my_rows = official["reading"]["predictions"], mine["reading"]["predictions"]
    assert [r["id"] for r in my_rows] == [r["id"] for r in rows]
    for a, b in zip(rows, my_rows, strict=True):
        assert b["pred"] == pytest.approx(a["pred"], abs=1e-5)
        assert math.isnan(a["prev_pred"]) == math.isnan(b["prev_pred"])
        if not math.isnan(a["prev_pred"]):
            assert b["prev_pred"] == pytest.approx(a["prev_pred"], abs=1e-5)
    # The official figures from the official predictions, by the official collation code.
    sys.path.insert(0, str(_oracle()))
    try:
        from evaluation_pipeline.collate_preds import _calculate_reading_results
    finally:
        sys.path.remove(str(_oracle()))
    figures = _calculate_reading_results(official, slices / "reading" / "reading_data.csv")
    results = json.loads((ours / "reading" / "results.json").read_text())
    assert results["eye_tracking"] / 100 == pytest.approx(figures["rt"], abs=1e-6)
    assert results["self_paced_reading"] / 100 == pytest.approx(figures["spr"], abs=1e-6)


FAST_LAYOUT = {
    "blimp_filtered": "blimp_fast",
    "supplement_filtered": "supplement_fast",
    "ewok": "ewok_fast",
    "entity_tracking": "entity_tracking_fast",
    "wug_adj": "wug_adj_nominalization",
    "wug_past": "wug_past_tense",
}


def _write_fast_data(slices: Path, folder: Path) -> None:
    """Our fast sets, written in the official fast_eval layout for the official collation."""
    sources = select_suite(EvalConfig(tasks=list(FAST_TASKS), data_dir=str(slices)), fast=True)
    for task, name in FAST_LAYOUT.items():
        files: dict[str, list[str]] = {}
        for item in sources[task]:
            stem = {"entity_tracking": "regular", "wug_adj": name, "wug_past": name}.get(task)
            files.setdefault(stem or item.uid, []).append(json.dumps(item.raw) + "\n")
        for stem, lines in files.items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            (folder / name / f"{stem}.jsonl").write_text("".join(lines))
    (folder / "reading").mkdir()
    csv = (slices / "reading" / "reading_data.csv").read_text()
    (folder / "reading" / "reading_data.csv").write_text(csv)


@pytest.mark.slow
def test_the_submission_equals_the_official_collation_of_the_same_predictions(
    suite_run: Path, slices: Path, tmp_path: Path
) -> None:
    sys.path.insert(0, str(_oracle()))
    try:
        from evaluation_pipeline import collate_preds as official
    finally:
        sys.path.remove(str(_oracle()))
    submission = json.loads((suite_run / "submission-strict-small.json").read_text())
    for task, key in SUBMISSION_KEYS.items():  # the full suite: each task's predictions as-is
        path = suite_run / "eval-babylm" / "babylm" / task / "predictions.json"
        assert json.dumps(submission[key]) == json.dumps(official._load_results(path)), task
    _write_fast_data(slices, tmp_path)
    fast = submission["fast_eval_results"]
    assert {k: len(v) for k, v in fast.items()} == {SUBMISSION_KEYS[t]: 2 for t in FAST_TASKS}
    for i, revision in enumerate(["chck_1M", "chck_2M"]):
        preds = suite_run / "eval-checkpoints" / revision / "babylm"

        def load(task: str, preds: Path = preds) -> dict:
            return official._load_results(preds / task / "predictions.json")

        expected = {
            "blimp": official._calculate_target_results(
                load("blimp_filtered"), "blimp", tmp_path / "blimp_fast"
            ),
            "blimp_supplement": official._calculate_target_results(
                load("supplement_filtered"), "blimp_supplement", tmp_path / "supplement_fast"
            ),
            "ewok": official._calculate_target_results(
                load("ewok"), "ewok", tmp_path / "ewok_fast"
            ),
            "entity_tracking": official._calculate_target_et_results(
                load("entity_tracking"), tmp_path / "entity_tracking_fast"
            ),
            "wug_adj": official._calculate_wugs_results(
                load("wug_adj"), "wug_adj_nominalization", tmp_path / "wug_adj_nominalization"
            ),
            "wug_past": official._calculate_wugs_results(
                load("wug_past"), "wug_past_tense", tmp_path / "wug_past_tense"
            ),
            "reading": official._calculate_reading_results(
                load("reading"), tmp_path / "reading" / "reading_data.csv"
            ),
        }
        for key, figures in expected.items():
            assert fast[key][i] == pytest.approx(figures, abs=1e-9), (revision, key)


MASKED_TASKS = ["blimp_filtered", "ewok", "wug_adj"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["mlm", "mntp"])
@pytest.mark.parametrize("task", MASKED_TASKS)
def test_a_masked_lm_scores_as_the_official_mlm_and_mntp_backends(
    task: str, backend: str, masked_dir: Path, slices: Path, tmp_path: Path, monkeypatch
) -> None:
    import shutil

    oracle_task, folder = ORACLE_TASK[task]
    data = tmp_path / "full_eval"  # three files of the task: a masked LM scores many copies
    (data / folder).mkdir(parents=True)
    for path in sorted((slices / folder).iterdir())[:3]:
        shutil.copyfile(path, data / folder / path.name)
    out = tmp_path / "ours"
    _babylm("eval", str(masked_dir), "--tasks", task, "--eval-data", str(data),
            "--backend", backend, "--out", str(out))  # fmt: skip
    _, average, official_preds = _oracle_sentence_task(
        masked_dir, oracle_task, data / folder, monkeypatch, backend
    )
    results = json.loads((out / "babylm" / task / "results.json").read_text())
    preds = json.loads((out / "babylm" / task / "predictions.json").read_text())
    assert results["backend"] == backend
    assert set(preds) == set(official_preds)
    for uid, rows in official_preds.items():
        mine = preds[uid]["predictions"]
        assert [r["pred"] for r in mine] == [r["pred"] for r in rows["predictions"]], uid
        if "wug" in task:
            probs = [r["prob"] for r in rows["predictions"]]
            assert [r["prob"] for r in mine] == pytest.approx(probs, abs=1e-5)
    key = "rho" if "wug" in task else "headline"
    assert results[key] == pytest.approx(average, abs=1e-6)

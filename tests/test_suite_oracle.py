"""Exactness against the official BabyLM 2025 pipeline (``../shared/oracles``), run in-process.

On a model trained in the test (the smoke run) and small slices of every task (the official
files in ``../shared``, synthetic COMPS and wug_past files in the same formats), the official
code and ``babylm eval --tasks babylm`` must choose the same candidate for every item and give
the same figures (headline, every per-key accuracy, reading's R^2 gains) to 1e-6; a tiny BERT
does the same under the mlm and mntp backends. The official collation, given our files
unchanged, must accept them and write our submission. Under ``CI=true`` a missing oracle fails
the test instead of skipping it.
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
from babylm.evaluation.submission import FAST_TASKS, GLUE_ORDER, SUBMISSION_KEYS, track_revisions
from babylm.evaluation.suite_tasks import FOLDERS, OFFICIAL_TASK, select_suite
from babylm.model import load_tokenizer
from babylm.runfolder import RunFolder
from tests.conftest import require
from tests.test_aoa import write_aoa_data
from tests.test_finetune_oracle import write_task_files

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ORACLE = SHARED / "oracles" / "babylm-evaluation-pipeline-2025"
FULL_EVAL = SHARED / "data" / "babylm_eval_2025" / "full_eval"
ORACLE_TASK = {  # ours -> (the official --task, the folder); reading runs by its own script
    task: (OFFICIAL_TASK[task], FOLDERS[task]) for task in OFFICIAL_TASK if task != "reading"
}
LINES_PER_FILE = 12
READING_ROWS = 80
WORDS_PER_MARK = 20
"""A "million" of the checkpoint names, shrunk so that 12 steps of the smoke preset pass every
mark of the strict-small schedule (chck_1M ... chck_100M)."""
GLUE_TRAIN, GLUE_VALID = 16, 8


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
    for task in GLUE_ORDER:  # the (Super)GLUE files, in the official format
        write_task_files(folder / "glue_filtered", task, GLUE_TRAIN, GLUE_VALID)
    write_aoa_data(folder)  # the AoA words and contexts (aoa/), in the official format
    return folder


def _babylm(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "babylm", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def suite_run(slices: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke preset trained for 12 steps with word checkpoints (a "million" shrunk to
    ``WORDS_PER_MARK`` words, so the tiny corpus passes every strict-small mark), then
    ``babylm eval RUN --tasks babylm``, ``babylm eval RUN --checkpoints``, ``babylm eval RUN
    --tasks aoa``, ``babylm finetune RUN`` (one epoch of each task) and ``babylm submission
    RUN``, with nothing missing."""
    from babylm.cli import main

    run_dir = tmp_path_factory.mktemp("suite") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(word_checkpoints, "WORDS_PER_MARK", WORDS_PER_MARK)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["run", "smoke", "--run-dir", str(run_dir), "--stages",
                      "corpus,tokenizer,train", "--set", "train.word_checkpoints=true",
                      "--set", "train.max_steps=12"])  # fmt: skip
            except SystemExit as exc:
                assert not exc.code
    found = {f.name for _, f in word_checkpoints.list_word_checkpoints(RunFolder(run_dir))}
    assert set(track_revisions("strict-small")) <= found
    _babylm("eval", str(run_dir), "--tasks", "babylm", "--eval-data", str(slices))
    _babylm("eval", str(run_dir), "--checkpoints", "--eval-data", str(slices))
    _babylm("eval", str(run_dir), "--tasks", "aoa", "--eval-data", str(slices))
    _babylm("finetune", str(run_dir), "--eval-data", str(slices), "--epochs", "1",
            "--batch-size", "8")  # fmt: skip
    _babylm("submission", str(run_dir))
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


def _official_reading(model_dir: Path, backend: str, csv: Path, out: Path) -> dict:
    """The official reading script's ``predictions.json`` for ``csv``, run as a script."""
    env = {**os.environ, "PYTHONPATH": str(_oracle())}
    done = subprocess.run(
        [sys.executable, "-m", "evaluation_pipeline.reading.run", "--model_path_or_name",
         str(model_dir), "--backend", backend, "--data_path", str(csv), "--output_dir",
         str(out)],
        capture_output=True, text=True, check=False, env=env, cwd=out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(next(out.rglob("predictions.json")).read_text())


def _assert_same_reading(official: dict, ours: Path, csv: Path) -> None:
    """Every surprisal and previous-word surprisal within 1e-5 (NaN where the official has
    NaN), and our R^2 gains equal to the official collation's from the official predictions."""
    mine = json.loads((ours / "reading" / "predictions.json").read_text())
    rows, my_rows = official["reading"]["predictions"], mine["reading"]["predictions"]
    assert [r["id"] for r in my_rows] == [r["id"] for r in rows]
    for a, b in zip(rows, my_rows, strict=True):
        assert b["pred"] == pytest.approx(a["pred"], abs=1e-5)
        assert math.isnan(a["prev_pred"]) == math.isnan(b["prev_pred"])
        if not math.isnan(a["prev_pred"]):
            assert b["prev_pred"] == pytest.approx(a["prev_pred"], abs=1e-5)
    sys.path.insert(0, str(_oracle()))
    try:
        from evaluation_pipeline.collate_preds import _calculate_reading_results
    finally:
        sys.path.remove(str(_oracle()))
    figures = _calculate_reading_results(official, csv)
    results = json.loads((ours / "reading" / "results.json").read_text())
    assert results["eye_tracking"] / 100 == pytest.approx(figures["rt"], abs=1e-6)
    assert results["self_paced_reading"] / 100 == pytest.approx(figures["spr"], abs=1e-6)


@pytest.mark.slow
def test_reading_surprisals_and_r2_gains_equal_the_official_pipeline(
    suite_run: Path, slices: Path, ours: Path, tmp_path: Path
) -> None:
    csv = slices / "reading" / "reading_data.csv"
    official = _official_reading(suite_run / "model", "causal", csv, tmp_path)
    _assert_same_reading(official, ours, csv)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["mlm", "mntp"])
def test_a_masked_lm_reads_as_the_official_mlm_and_mntp_reading_code(
    backend: str, masked_dir: Path, slices: Path, tmp_path: Path
) -> None:
    """The masked LM's tokenizer splits most words into several tokens, so every word after
    the first token runs the official re-encoding path too."""
    data = tmp_path / "full_eval"
    (data / "reading").mkdir(parents=True)
    csv = data / "reading" / "reading_data.csv"
    csv.write_bytes((slices / "reading" / "reading_data.csv").read_bytes())
    out = tmp_path / "ours"
    _babylm("eval", str(masked_dir), "--tasks", "reading", "--eval-data", str(data),
            "--backend", backend, "--out", str(out))  # fmt: skip
    official_dir = tmp_path / "official"
    official_dir.mkdir()
    official = _official_reading(masked_dir, backend, csv, official_dir)
    import pandas as pd

    tok = load_tokenizer(masked_dir)
    words = pd.read_csv(csv)["word"]
    assert sum(len(tok(w, add_special_tokens=False)["input_ids"]) > 1 for w in words) > 10
    assert json.loads((out / "babylm" / "reading" / "results.json").read_text())["backend"] == (
        backend
    )
    _assert_same_reading(official, out / "babylm", csv)


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


OFFICIAL_FULL = {  # ours -> where the official scripts write its predictions (zero_shot/causal/)
    task: f"{OFFICIAL_TASK[task]}/{FOLDERS[task]}" for task in SUBMISSION_KEYS if task != "reading"
} | {"reading": "reading"}
OFFICIAL_FAST = {
    task: f"{OFFICIAL_TASK[task]}/{FAST_LAYOUT.get(task, FOLDERS[task])}" for task in FAST_TASKS
} | {"reading": "reading"}


def _official_results_folder(run: RunFolder, results: Path) -> None:
    """Our files, taken from where ``babylm submission`` reads them and copied byte for byte
    into the layout the official scripts write (``results/<model>/<revision>/{zero_shot/causal,
    finetune}/...``) for ``collate_preds``."""
    import shutil

    def place(source: Path, *where: str) -> None:
        target = results.joinpath("run", *where)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    for task, where in OFFICIAL_FULL.items():
        source = run.suite_eval.suite_predictions(task)
        place(source, "main", "zero_shot", "causal", where, "predictions.json")
    place(run.aoa_eval.aoa_surprisal, "main", "zero_shot", "causal", "AoA_word", "surprisal.json")
    for task in GLUE_ORDER:
        place(run.finetune.task(task).predictions, "main", "finetune", task, "predictions.json")
    for revision in track_revisions("strict-small"):
        for task, where in OFFICIAL_FAST.items():
            source = run.checkpoint_evals.checkpoint(revision).suite_predictions(task)
            place(source, revision, "zero_shot", "causal", where, "predictions.json")


def _sizes(slices: Path, fast_dir: Path) -> tuple[dict, dict, int]:
    """The official collation's size tables (``FULL_SIZES``, ``FAST_SIZES``, ``AOA_SIZE``) for
    the sliced data, counted from the data files (never from the predictions they check); the
    AoA rows per checkpoint by the official AoA loader (its default: every word longer than
    one character, every context)."""
    from evaluation_pipeline.AoA_word.eval_util import load_eval

    full_sources = select_suite(EvalConfig(tasks=["babylm"], data_dir=str(slices)))
    full: dict = {"reading": len(full_sources.pop("reading").frame)}
    for task, items in full_sources.items():
        counts: dict[str, int] = {}
        for item in items:
            counts[item.uid.lower()] = counts.get(item.uid.lower(), 0) + 1
        full[SUBMISSION_KEYS[task]] = counts
    for key in ("wug_adj", "wug_past"):
        full[key] = full[key][key]
    for task in GLUE_ORDER:
        lines = (slices / "glue_filtered" / f"{task}.valid.jsonl").read_text().splitlines()
        full[task] = len(lines)
    fast: dict = {"reading": full["reading"], "wug_adj": full["wug_adj"]}
    fast["wug_past"] = full["wug_past"]
    for task in ("blimp_filtered", "supplement_filtered", "ewok"):
        per_file = {
            len(p.read_text().splitlines()) for p in (fast_dir / FAST_LAYOUT[task]).iterdir()
        }
        (fast[SUBMISSION_KEYS[task]],) = per_file  # one size for every UID, as officially
    regular = (fast_dir / "entity_tracking_fast" / "regular.jsonl").read_text().splitlines()
    fast["entity_tracking"] = {}
    for line in regular:
        uid = f"regular_{json.loads(line)['numops']}_ops"
        fast["entity_tracking"][uid] = fast["entity_tracking"].get(uid, 0) + 1
    _, contexts = load_eval(slices / "aoa" / "cdi_childes.json", min_context=0)
    return full, fast, sum(map(len, contexts))


@pytest.mark.slow
def test_the_official_collation_accepts_our_files_unchanged_and_writes_our_submission(
    suite_run: Path, slices: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every part present (the zero-shot suite, the fast evals at all 19 checkpoints, the
    seven fine-tuning tasks, the AoA surprisals): ``collate_preds`` (its size tables patched
    to the sliced data, nothing else) checks each file and collates them into what ``babylm
    submission`` wrote, key for key."""
    monkeypatch.syspath_prepend(str(_oracle()))
    from evaluation_pipeline import collate_preds as official

    fast_dir, results = tmp_path / "fast_eval", tmp_path / "results"
    _write_fast_data(slices, fast_dir)
    _official_results_folder(RunFolder(suite_run), results)
    full_sizes, fast_sizes, aoa_size = _sizes(slices, fast_dir)
    monkeypatch.setattr(official, "FULL_SIZES", full_sizes)
    monkeypatch.setattr(official, "FAST_SIZES", fast_sizes)
    monkeypatch.setattr(official, "AOA_SIZE", aoa_size)
    args = argparse.Namespace(
        model_path_or_name=Path("run"), backend="causal", results_dir=results,
        revision_name="main", fast=True, fast_eval_dir=fast_dir, track="strict-small",
        multimodal=False,
    )  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()) as said:
        official.collate_preds(args)  # an AssertionError here: a file it refused
    assert "missing" not in said.getvalue() and "should" not in said.getvalue(), said.getvalue()
    theirs = json.loads(
        (results / "run" / "all_full_preds_and_fast_scores_causal.json").read_text()
    )
    ours = json.loads(RunFolder(suite_run).submission("strict-small").read_text())
    assert list(ours) == list(theirs)
    for key in ours:
        if key != "fast_eval_results":
            assert json.dumps(ours[key]) == json.dumps(theirs[key]), key
    fast, expected = ours["fast_eval_results"], theirs["fast_eval_results"]
    assert list(fast) == list(expected)
    for key, values in expected.items():
        assert len(fast[key]) == len(values) == 19, key
        for i, (mine, figures) in enumerate(zip(fast[key], values, strict=True)):
            assert mine == pytest.approx(figures, abs=1e-9), (key, i)


MASKED_TASKS = ["blimp_filtered", "ewok", "wug_adj", "comps", "wug_past"]


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

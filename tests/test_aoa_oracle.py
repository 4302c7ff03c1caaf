"""Age of acquisition against the official BabyLM 2025 pipeline (``../shared/oracles``),
in-process.

* Surprisals: the smoke preset trained in the test for 100 steps with word checkpoints (a
  "million" shrunk to 300 words: chck_1M to chck_50M), and small synthetic ``cdi_childes.json``
  and ``cdi_human.csv`` in the official formats (``test_aoa.write_aoa_data``). Every row of
  ``babylm eval RUN --tasks aoa`` must equal the official ``StepSurprisalExtractor``'s
  (``eval_aoa.sh``'s code, given each checkpoint folder as its model: a local folder has no
  ``revision``): the same step, word count, word, context id and context, the surprisal to
  1e-5. Likewise for a masked LM under ``--backend mlm`` and ``--backend mntp``.
* Fits and figure: the official ``AoAEvaluator`` (what ``calculate_results_from_pred.py``
  runs) on our surprisal file must make the same ``curve_fit`` calls with the same results
  (every fitted curve equal), keep the same words with the same two ages and give our
  headline (a few words there have both ages: the figure is not the 0.0 of fewer than 3); on
  its own surprisal file, the same words and a figure within 1e-6. On synthetic surprisals
  built to be fitted (60 words, the 19 strict-small checkpoints), the same.
* Submission: the ``aoa`` entry of ``babylm submission`` passes the official collation's
  check and gives the same figure.

Under ``CI=true`` a missing oracle fails the test instead of skipping it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from babylm import word_checkpoints
from babylm.config import EvalConfig
from babylm.evaluation.aoa_data import read_human
from babylm.evaluation.aoa_fit import curve_fitness
from babylm.runfolder import RunFolder
from tests.conftest import require
from tests.test_aoa import fake_run, synthetic_human, synthetic_rows, write_aoa_data

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT.parent / "shared" / "oracles" / "babylm-evaluation-pipeline-2025"
PER_MARK = 300
STEPS = 100


def _oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("pandas", "scipy", "statsmodels"):
        require(module)
    if not ORACLE.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{ORACLE} is missing: the exactness test must run in CI")
        pytest.skip("the official BabyLM pipeline (../shared/oracles) is not here")
    monkeypatch.syspath_prepend(str(ORACLE))


def _babylm(*args: str) -> str:
    from babylm.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(list(args))
        except SystemExit as exc:
            assert not exc.code, out.getvalue()[-2000:]
    return out.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_aoa_data(tmp_path_factory.mktemp("full_eval"))


@pytest.fixture(scope="module")
def aoa_run(tmp_path_factory: pytest.TempPathFactory, data: Path) -> RunFolder:
    """The smoke preset, 100 steps, word checkpoints every 300 words; then AoA scored and the
    submission written."""
    run = RunFolder(tmp_path_factory.mktemp("aoa") / "run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(word_checkpoints, "WORDS_PER_MARK", PER_MARK)
        _babylm("run", "smoke", "--run-dir", str(run.root), "--stages", "corpus,tokenizer,train",
                "--set", "train.word_checkpoints=true",
                "--set", f"train.max_steps={STEPS}")  # fmt: skip
    assert len(word_checkpoints.list_word_checkpoints(run)) >= 12
    _babylm("eval", str(run.root), "--tasks", "aoa", "--eval-data", str(data))
    _babylm("submission", str(run.root), "--allow-missing")
    return run


def official_surprisals(run: RunFolder, data: Path, backend: str = "causal") -> list[dict]:
    """``StepSurprisalExtractor.analyze_steps`` on each word checkpoint, as ``eval_aoa.sh``
    runs it (``run.py``: no minimum of contexts, contexts not replaced by BOS)."""
    from evaluation_pipeline.AoA_word.eval_util import StepConfig, load_eval
    from evaluation_pipeline.AoA_word.evaluation_functions import StepSurprisalExtractor

    words, contexts = load_eval(data / "aoa" / "cdi_childes.json", 0)
    rows = []
    for millions, folder in word_checkpoints.list_word_checkpoints(run):
        config = StepConfig(track="strict-small")
        config.steps, config.word_counts = [folder.name], [millions * 10**6]
        extractor = StepSurprisalExtractor(config, str(folder), backend, "cpu")
        rows += extractor.analyze_steps(contexts=contexts, target_words=words)["results"]
    return rows


def _same_rows(ours: list[dict], official: list[dict]) -> None:
    assert len(ours) == len(official) > 0
    finite = [r for r in official if not math.isnan(r["surprisal"])]
    assert len(finite) > len(official) // 2
    by_step: dict[str, float] = {}
    for r in finite:
        by_step[r["step"]] = by_step.get(r["step"], 0.0) + r["surprisal"]
    assert len(set(by_step.values())) == len(by_step) > 1  # each checkpoint its own model
    keys = ("step", "word_count", "target_word", "context_id", "context")
    for mine, theirs in zip(ours, official, strict=True):
        assert [mine[k] for k in keys] == [theirs[k] for k in keys]
        if math.isnan(theirs["surprisal"]):
            assert math.isnan(mine["surprisal"]), mine
        else:
            assert mine["surprisal"] == pytest.approx(theirs["surprisal"], abs=1e-5), mine


class FitRecorder:
    """Wraps ``curve_fit``: every call's kind (child: bounded), y data and fitted curve."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, {}

    def __call__(self, f: Any, xdata: Any, ydata: Any, **kwargs: Any) -> Any:
        key = ("child" if "bounds" in kwargs else "model", tuple(np.asarray(ydata).tolist()))
        try:
            popt, pcov = self.real(f, xdata, ydata, **kwargs)
        except Exception:
            self.calls[key] = None
            raise
        self.calls[key] = np.asarray(popt).tolist()
        return popt, pcov


def _official_fit(
    rows: list[dict], human_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict, dict]:
    """The official ``AoAEvaluator`` on ``rows``: its figures and every curve it fitted."""
    from evaluation_pipeline import utils as official

    recorder = FitRecorder(official.curve_fit)
    monkeypatch.setattr(official, "curve_fit", recorder)
    figures = official.AoAEvaluator(human_csv).compute_curve_fitness({"results": rows})
    monkeypatch.setattr(official, "curve_fit", recorder.real)
    return figures, recorder.calls


def _ours_fit(rows: list[dict], human_csv: Path, monkeypatch: pytest.MonkeyPatch):
    import scipy.optimize

    recorder = FitRecorder(scipy.optimize.curve_fit)
    monkeypatch.setattr(scipy.optimize, "curve_fit", recorder)
    fitted = curve_fitness(rows, read_human(human_csv))
    monkeypatch.setattr(scipy.optimize, "curve_fit", recorder.real)
    return fitted, recorder.calls


def _same_fits(result: dict, official: dict, ours_calls: dict, official_calls: dict) -> None:
    """The same curves for the same inputs, the same words and ages, the same figure."""
    assert official_calls, "the official scorer fitted nothing"
    for key, popt in official_calls.items():
        assert key in ours_calls, key[0]
        assert ours_calls[key] == popt, key[0]  # bit for bit: the same calls
    both = [
        (w, f["model"]["aoa"], f["child"]["aoa"])
        for w, f in result["words"].items()
        if f["child"] is not None
        and f["child"]["aoa"] is not None
        and f["model"]["aoa"] is not None
    ]
    assert official["n_words"] == len(both)
    assert result["curve_fitness"] == official["curve_fitness"]
    if len(both) >= 3:
        assert official["valid_words"] == [w for w, _, _ in both]
        assert [float(a) for a in official["model_aoas"]] == [m for _, m, _ in both]
        assert [float(a) for a in official["child_aoas"]] == [c for _, _, c in both]


@pytest.mark.slow
def test_every_surprisal_fit_and_the_figure_equal_the_official_pipeline(
    aoa_run: RunFolder, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _oracle(monkeypatch)
    ours = json.loads(aoa_run.aoa_eval.aoa_surprisal.read_text())["results"]
    started = time.perf_counter()
    official_rows = official_surprisals(aoa_run, data)
    official_s = time.perf_counter() - started
    _same_rows(ours, official_rows)
    result = json.loads(aoa_run.aoa_eval.suite_result("aoa").read_text())
    print(f"AoA surprisals: ours {result['scoring_s']:.1f} s (with the final model),"
          f" official {official_s:.1f} s, {len(ours):,} rows")  # fmt: skip

    human_csv = data / "aoa" / "cdi_human.csv"
    official, official_calls = _official_fit(ours, human_csv, monkeypatch)
    fitted, ours_calls = _ours_fit(ours, human_csv, monkeypatch)
    assert fitted["words"] == result["words"]  # results.json holds these fits
    assert official["n_words"] >= 3 and official["curve_fitness"] != 0.0  # a real figure
    _same_fits(fitted | {"curve_fitness": result["headline"]}, official, ours_calls, official_calls)
    # The official figure on the official surprisals: the same words, the same figure.
    theirs, _ = _official_fit(official_rows, human_csv, monkeypatch)
    assert theirs["n_words"] == official["n_words"]
    assert theirs.get("valid_words") == official.get("valid_words")
    assert theirs["curve_fitness"] == pytest.approx(result["headline"], abs=1e-6)


def test_the_fits_and_figure_on_fitted_curves_equal_the_official_scorer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _oracle(monkeypatch)
    rows = synthetic_rows()
    human_csv = synthetic_human(tmp_path / "cdi_human.csv")
    official, official_calls = _official_fit(rows, human_csv, monkeypatch)
    fitted, ours_calls = _ours_fit(rows, human_csv, monkeypatch)
    assert official["n_words"] > 30 and official["curve_fitness"] > 0.5  # a real test
    _same_fits(fitted, official, ours_calls, official_calls)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["mlm", "mntp"])
def test_masked_surprisals_equal_the_official_masked_backends(
    backend: str, masked_dir: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _oracle(monkeypatch)
    run = fake_run(tmp_path / "run", masked_dir, [1, 2])
    _babylm("eval", str(run.root), "--tasks", "aoa", "--backend", backend, "--eval-data", str(data))
    folder = run.eval_beside(EvalConfig(tasks=["aoa"], backend=backend))
    ours = json.loads(folder.aoa_surprisal.read_text())["results"]
    _same_rows(ours, official_surprisals(run, data, backend=backend))


@pytest.mark.slow
def test_the_submission_aoa_passes_the_official_collation_check(
    aoa_run: RunFolder, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _oracle(monkeypatch)
    from evaluation_pipeline import collate_preds as official

    submission = json.loads(aoa_run.submission("strict-small").read_text())
    written = json.loads(aoa_run.aoa_eval.aoa_surprisal.read_text())
    assert json.dumps(submission["aoa"]["results"]) == json.dumps(written["results"])
    names = [p.name for _, p in word_checkpoints.list_word_checkpoints(aoa_run)]
    rows = len(written["results"]) // len(names)
    monkeypatch.setattr(official, "STRICT_SMALL_FAST_REVISIONS", names)  # our run stops early
    monkeypatch.setattr(official, "AOA_SIZE", rows)
    assert official._check_size_aoa(argparse.Namespace(track="strict-small"), submission["aoa"])
    figures, _ = _official_fit(submission["aoa"]["results"], data / "aoa" / "cdi_human.csv",
                               monkeypatch)  # fmt: skip
    result = json.loads(aoa_run.aoa_eval.suite_result("aoa").read_text())
    assert figures["curve_fitness"] == result["headline"]

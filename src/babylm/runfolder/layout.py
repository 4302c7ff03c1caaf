"""Where everything is: the run folder's layout, the eval folders in it, and their copies.

A run folder (``runs/<name>/``) holds the resolved ``config.yaml``, one folder per stage
(``corpus/``, ``tokenizer/``, ``train/``, ``eval/``, ``export/``, ``report/``), the training's
``checkpoints/`` and ``word_checkpoints/``, and, once trained, ``model/`` (a Hugging Face
folder). ``babylm eval`` writes selections other than the stage's beside it
(``eval-<label>/``), the word checkpoints' fast evals go to ``eval-checkpoints/``. Every path
is spelled here, in ``RunFolder`` and ``EvalFolder``; ``RunFiles`` finds the same files in a
run folder, an eval folder, or a run's copy in ``results/<run>/`` (``scripts.collect_results``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from babylm.config import Config, EvalConfig, load_config
from babylm.errors import BabylmError
from babylm.runfolder.files import sha256_bytes
from babylm.runfolder.manifest import MANIFEST
from babylm.runfolder.summary import TrainSummary, read_summary

STAGES = ("corpus", "tokenizer", "train", "eval", "export", "report")
CONFIG = "config.yaml"
SUMMARY, METRICS = "summary.json", "metrics.jsonl"
PAIRS = "pairs.jsonl.gz"
SUITE = "babylm"
"""An eval folder's BabyLM suite subfolder: ``<eval>/babylm/<task>/``."""
AOA = "aoa"
"""The age-of-acquisition task: ``<eval>/babylm/aoa/``, and the eval folder ``eval-aoa/``."""


def task_file(task: str) -> str:
    """An eval folder's results file of one pair task: ``blimp.json``."""
    return f"{task}.json"


@dataclass(frozen=True)
class EvalFolder:
    """One evaluation's results: ``<task>.json`` per pair task, ``pairs.jsonl.gz`` (every
    pair's two scores) and the suite's ``babylm/<task>/{results,predictions}.json`` with
    ``babylm/suite.json`` (every suite headline)."""

    root: Path

    def result(self, task: str) -> Path:
        return self.root / task_file(task)

    @property
    def pairs(self) -> Path:
        return self.root / PAIRS

    @property
    def suite(self) -> Path:
        return self.root / SUITE

    @property
    def suite_summary(self) -> Path:
        return self.suite / "suite.json"

    def suite_task(self, task: str) -> Path:
        return self.suite / task

    def suite_result(self, task: str) -> Path:
        return self.suite_task(task) / "results.json"

    def suite_predictions(self, task: str) -> Path:
        return self.suite_task(task) / "predictions.json"

    def suite_results(self) -> dict[str, Path]:
        """Each suite task's ``results.json`` this folder holds, by task."""
        return {p.parent.name: p for p in sorted(self.suite.glob("*/results.json"))}

    @property
    def aoa_surprisal(self) -> Path:
        """The official AoA file: every word checkpoint's surprisal of every (word, context)."""
        return self.suite_task(AOA) / "surprisal.json"

    @property
    def aoa_final(self) -> Path:
        """The same surprisals of the run's final model (``step`` "main")."""
        return self.suite_task(AOA) / "final_surprisal.json"


def evaluation_label(ev: EvalConfig) -> str:
    """A folder name that says what an evaluation scored and how: ``blimp-5pp-reference``."""
    parts = ["+".join([*ev.tasks, *(Path(p).name for p in ev.pairs_dirs)])]
    if ev.per_paradigm is not None:
        parts.append(f"{ev.per_paradigm}pp")
    if ev.paradigms or ev.terms or ev.fields:
        chosen = json.dumps([ev.paradigms, ev.terms, ev.fields]).encode()
        parts.append(f"filtered-{sha256_bytes(chosen)[:8]}")
    if ev.protocol != "standard":
        parts.append(ev.protocol)
    if ev.scorer != "tree":
        parts.append(ev.scorer)
    if ev.leading_space:
        parts.append("leading-space")
    if ev.mlm_variant != EvalConfig().mlm_variant:
        parts.append(ev.mlm_variant)
    if ev.backend != EvalConfig().backend:
        parts.append(ev.backend)
    return "-".join(parts)


@dataclass(frozen=True)
class TaskFolder:
    """One fine-tuned task: the official ``predictions.json`` and our ``results.json``."""

    root: Path

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.json"

    @property
    def results(self) -> Path:
        return self.root / "results.json"


@dataclass(frozen=True)
class FinetuneFolder:
    """``babylm finetune``: a ``TaskFolder`` per (Super)GLUE task."""

    root: Path

    def task(self, name: str) -> TaskFolder:
        return TaskFolder(self.root / name)


@dataclass(frozen=True)
class CheckpointEvals:
    """``babylm eval RUN --checkpoints``: one eval folder per word checkpoint
    (``chck_<n>M/``), ``fast.json`` (each one's words seen and headlines) and its plot."""

    root: Path

    def checkpoint(self, name: str) -> EvalFolder:
        return EvalFolder(self.root / name)

    @property
    def fast(self) -> Path:
        return self.root / "fast.json"

    @property
    def plot(self) -> Path:
        return self.root / "fast_curve.png"


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (nothing is read or created by naming them)."""

    root: Path

    def stage(self, name: str) -> Path:
        return self.root / name

    def manifest(self, stage: str) -> Path:
        return self.stage(stage) / MANIFEST

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def train_text(self) -> Path:
        return self.stage("corpus") / "train.txt"

    @property
    def dev_text(self) -> Path:
        return self.stage("corpus") / "dev.txt"

    @property
    def tokenizer(self) -> Path:
        return self.stage("tokenizer")

    @property
    def tokenizer_file(self) -> Path:
        return self.tokenizer / "tokenizer.json"

    @property
    def summary(self) -> Path:
        return self.stage("train") / SUMMARY

    @property
    def metrics(self) -> Path:
        return self.stage("train") / METRICS

    @property
    def tensorboard(self) -> Path:
        return self.stage("train") / "tb"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def word_checkpoints(self) -> Path:
        return self.root / "word_checkpoints"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def model_config(self) -> Path:
        return self.model / "config.json"

    @property
    def weights(self) -> Path:
        return self.model / "model.safetensors"

    @property
    def card(self) -> Path:
        return self.model / "README.md"

    @property
    def eval(self) -> EvalFolder:
        """The eval stage's results (``eval.*`` of the run's config)."""
        return EvalFolder(self.stage("eval"))

    def eval_beside(self, ev: EvalConfig) -> EvalFolder:
        """Where ``babylm eval RUN`` writes a selection other than the stage's."""
        return EvalFolder(self.root / f"eval-{evaluation_label(ev)}")

    @property
    def suite_eval(self) -> EvalFolder:
        """The eval folder holding the run's BabyLM suite: the stage's when its
        ``babylm/suite.json`` is there, else ``babylm eval RUN --tasks babylm``'s; the
        stage's when neither holds one."""
        found = [self.eval, self.eval_beside(EvalConfig(tasks=[SUITE]))]
        return next((f for f in found if f.suite_summary.is_file()), found[0])

    @property
    def aoa_eval(self) -> EvalFolder:
        """The eval folder holding the run's AoA surprisals: the stage's, or that of
        ``babylm eval RUN --tasks babylm,aoa`` or ``--tasks aoa``; the last when none does."""
        found = [
            self.eval,
            self.eval_beside(EvalConfig(tasks=[SUITE, AOA])),
            self.eval_beside(EvalConfig(tasks=[AOA])),
        ]
        return next((f for f in found if f.aoa_surprisal.is_file()), found[-1])

    @property
    def checkpoint_evals(self) -> CheckpointEvals:
        """``babylm eval RUN --checkpoints``: the fast suite at each word checkpoint."""
        return CheckpointEvals(self.root / "eval-checkpoints")

    @property
    def finetune(self) -> FinetuneFolder:
        return FinetuneFolder(self.root / "finetune")

    @property
    def word_checkpoint_index(self) -> Path:
        """Words seen and step of each word checkpoint (``word_checkpoints.WordCheckpoints``)."""
        return self.word_checkpoints / "index.json"

    @property
    def report(self) -> Path:
        return self.stage("report")

    @property
    def report_page(self) -> Path:
        return self.report / "report.html"

    def submission(self, track: str) -> Path:
        return self.root / f"submission-{track}.json"

    def is_run(self) -> bool:
        """Whether this holds a run's resolved ``config.yaml``."""
        return self.config.is_file()

    def read_config(self) -> Config:
        """The run's resolved config (keys added since the run take today's defaults)."""
        if not self.is_run():
            raise BabylmError(f"{self.root}: not a run folder (no {CONFIG})")
        return load_config(str(self.config))

    def read_summary(self) -> TrainSummary | None:
        """The train summary (None for a run not trained yet)."""
        return read_summary(self.summary)


def model_eval_folder(model_dir: Path) -> EvalFolder:
    """Where ``babylm eval MODEL_FOLDER`` writes, a model folder being nobody's run:
    ``runs/eval-<folder name>/``."""
    return EvalFolder(Path("runs") / f"eval-{model_dir.name}")


def model_finetune_folder(model_dir: Path) -> FinetuneFolder:
    """Where ``babylm finetune MODEL_FOLDER`` writes: ``runs/finetune-<folder name>/``."""
    return FinetuneFolder(Path("runs") / f"finetune-{model_dir.name}")


def model_folder(target: Path) -> Path:
    """A run folder's ``model/``, or the Hugging Face model folder itself."""
    run_model = RunFolder(target).model
    folder = run_model if (run_model / "config.json").is_file() else target
    if not (folder / "config.json").is_file():
        raise BabylmError(f"{target}: neither a run folder nor a Hugging Face model folder")
    return folder


def run_of(target: Path) -> RunFolder | None:
    """The run folder ``target`` is, or None for a bare model folder."""
    return RunFolder(target) if model_folder(target) != target else None


# The flat names a run's copy (results/<run>/, scripts.collect_results) gives its files.
COLLECTED = {
    "config": CONFIG,
    "corpus_manifest": "corpus_manifest.json",
    "tokenizer_manifest": "tokenizer_manifest.json",
    "summary": SUMMARY,
    "metrics": METRICS,
    "blimp": task_file("blimp"),
    "supplement": task_file("supplement"),
    "pairs": PAIRS,
    "card": "MODEL_CARD.md",
    "suite": "suite",
    "report": "report",
    "learning_curve": "learning_curve.json",
}


@dataclass(frozen=True)
class RunFiles:
    """A run's result files, wherever a folder keeps them: a run folder (nested in its
    stages), an eval folder, or a run's copy in ``results/<run>/`` (flat, ``COLLECTED``).
    A path may not exist: readers check."""

    folder: Path
    blimp: Path
    supplement: Path
    pairs: Path
    metrics: Path
    summary: Path
    config: Path
    fast: Path
    suite_summaries: tuple[Path, ...]
    """Where the suite's ``suite.json`` may be, first found wins."""

    @classmethod
    def of(cls, folder: Path) -> RunFiles:
        """One rule for every reader: a folder with ``eval/`` or ``train/`` is a run folder;
        any other is flat (an eval folder, or a run's copy)."""
        run = RunFolder(folder)
        if run.eval.root.is_dir() or run.stage("train").is_dir():
            results, train, fast = run.eval, run.stage("train"), run.checkpoint_evals.fast
            suites: tuple[Path, ...] = (run.suite_eval.suite_summary,)
        else:
            results, train, fast = EvalFolder(folder), folder, CheckpointEvals(folder).fast
            suites = (results.suite_summary, folder / COLLECTED["suite"] / "suite.json")
        return cls(
            folder=folder,
            blimp=results.result("blimp"),
            supplement=results.result("supplement"),
            pairs=results.pairs,
            metrics=train / METRICS,
            summary=train / SUMMARY,
            config=folder / COLLECTED["config"],
            fast=fast,
            suite_summaries=suites,
        )

    @property
    def name(self) -> str:
        """The run's name: the folder's, or its run's for a stage's ``eval/``."""
        f = self.folder
        return f.parent.name if f.name == "eval" else f.name

    def read_summary(self) -> TrainSummary | None:
        return read_summary(self.summary)


def learning_curve_file(folder: Path) -> Path:
    """A learning curve's file in a results folder (``scripts.learning_curve --out``)."""
    return folder / COLLECTED["learning_curve"]

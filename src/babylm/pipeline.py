"""Run the pipeline stages into a run folder, skipping those whose inputs are unchanged.

corpus -> tokenizer -> train -> eval -> export -> report: each stage reads the run's files
(``babylm.runfolder``) and calls the module that does its work (``corpus``, ``tokenizer``,
``train``, ``evaluation.evaluate``, ``export``, ``report``); its manifest decides whether it
is up to date.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm import corpus as corpus_mod
from babylm.config import AOA_TASK, Config, EvalConfig, validate_eval
from babylm.errors import BabylmError
from babylm.runfolder import (
    MANIFEST,
    STAGES,
    RunFiles,
    RunFolder,
    atomic_write_text,
    fingerprint,
    is_fresh,
    manifest_header,
    process_rank,
    read_json,
    read_manifest,
    sha256_file,
    staged_output,
    write_json,
)

RANK_WAIT_S = 3600.0


@dataclass
class StageResult:
    stage: str
    status: str  # "built" or "skipped"
    path: Path
    seconds: float
    manifest: dict[str, Any]


def default_run_dir(cfg: Config) -> Path:
    return Path("runs") / cfg.name


def check_run(cfg: Config) -> None:
    """What can be checked before any work (and before the run folder exists): a mistake in
    the eval settings stops here, not after hours of training."""
    corpus_mod.check_budget(cfg.corpus)
    validate_eval(cfg.eval)


def prepare_run(cfg: Config, run_dir: Path) -> None:
    """Check what can be checked before any work, then record the resolved config."""
    check_run(cfg)
    if process_rank() == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(RunFolder(run_dir).config, cfg.to_yaml())


def stage_settings(stage: str, cfg: Config) -> dict[str, Any]:
    """The part of the config a stage's output depends on (its fingerprint covers these)."""
    if stage == "tokenizer":
        return dataclasses.asdict(cfg.tokenizer) | {"context_length": cfg.model.context_length}
    if stage == "train":
        return {"model": dataclasses.asdict(cfg.model), "train": dataclasses.asdict(cfg.train)}
    return dataclasses.asdict(getattr(cfg, stage))


def _fresh(stage: str, settings: Any, stage_dir: Path, fp: str, inputs: dict[str, str]) -> bool:
    """``is_fresh`` against the defaults, so runs recorded by an older babylm still count."""
    return is_fresh(stage_dir, fp, inputs, settings, stage_settings(stage, Config()))


def _run_stage(
    stage: str,
    run_dir: Path,
    cfg: Config,
    inputs: dict[str, str],
    build: Callable[[Path], dict[str, Any]],
    force: bool,
) -> StageResult:
    """Build ``run_dir/stage`` atomically unless its manifest says it is up to date."""
    stage_dir = RunFolder(run_dir).stage(stage)
    settings = stage_settings(stage, cfg)
    fp = fingerprint(stage, settings, inputs)
    start = time.perf_counter()
    if process_rank() > 0:  # under torchrun only rank 0 builds; the others wait for its output
        while not _fresh(stage, settings, stage_dir, fp, inputs):
            if time.perf_counter() - start > RANK_WAIT_S:
                raise BabylmError(f"{stage_dir}: rank 0 did not finish the {stage} stage")
            time.sleep(0.5)
        force = False
    if not force and _fresh(stage, settings, stage_dir, fp, inputs):
        manifest = read_manifest(stage_dir) or {}
        return StageResult(stage, "skipped", stage_dir, time.perf_counter() - start, manifest)
    with staged_output(stage_dir) as tmp:
        body = build(tmp)
        manifest = manifest_header(stage, fp, settings) | {"inputs": inputs} | body
        write_json(tmp / MANIFEST, manifest)  # written last: its presence marks completion
    return StageResult(stage, "built", stage_dir, time.perf_counter() - start, manifest)


def _require(run_dir: Path, stage: str, needed_by: str) -> dict[str, Any]:
    stage_dir = RunFolder(run_dir).stage(stage)
    manifest = read_manifest(stage_dir)
    if manifest is None:
        raise BabylmError(
            f"{stage_dir}: no finished {stage} stage; run the earlier stages before"
            f" {needed_by} (babylm run PRESET --run-dir {run_dir} runs them all in order)"
        )
    return manifest


def run_corpus(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    def build(out: Path) -> dict[str, Any]:
        return corpus_mod.build_corpus(cfg.corpus, out)

    return _run_stage("corpus", run_dir, cfg, corpus_mod.corpus_inputs(cfg.corpus), build, force)


def run_tokenizer(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    _require(run_dir, "corpus", "tokenizer")
    run = RunFolder(run_dir)
    train_file, dev_file = run.train_text, run.dev_text
    inputs = {
        _key(run, train_file): sha256_file(train_file),
        _key(run, dev_file): sha256_file(dev_file),
    }

    def build(out: Path) -> dict[str, Any]:
        from babylm import tokenizer as tok_mod  # transformers is slow to import: only if needed

        tok = tok_mod.train_tokenizer(cfg.tokenizer, train_file, cfg.model.context_length)
        tok_mod.save_tokenizer(tok, out)
        dev_stats = tok_mod.tokenizer_stats(tok, dev_file.read_text(encoding="utf-8"))
        return {
            "style": cfg.tokenizer.style,
            "vocab_size": len(tok),
            "special_tokens": {
                name: {
                    "token": getattr(tok, f"{name}_token"),
                    "id": getattr(tok, f"{name}_token_id"),
                }
                for name in ("pad", "bos", "eos", "mask")
                if getattr(tok, f"{name}_token", None) is not None
            },
            "dev": dev_stats,
        }

    return _run_stage("tokenizer", run_dir, cfg, inputs, build, force)


def run_train(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    """Train, or resume a killed training, or skip a finished one with the same inputs."""
    corpus_manifest = _require(run_dir, "corpus", "train")
    tok_manifest = _require(run_dir, "tokenizer", "train")
    run = RunFolder(run_dir)
    inputs = {
        _key(run, run.train_text): corpus_manifest["train"]["sha256"],
        _key(run, run.dev_text): corpus_manifest["dev"]["sha256"],
        _key(run, run.tokenizer): tok_manifest["fingerprint"],
    }
    settings = stage_settings("train", cfg)
    fp = fingerprint("train", settings, inputs)
    stage_dir = run.stage("train")
    start = time.perf_counter()
    fresh = _fresh("train", settings, stage_dir, fp, inputs)
    if not force and fresh and run.model_config.is_file():
        manifest = read_manifest(stage_dir) or {}
        return StageResult("train", "skipped", stage_dir, time.perf_counter() - start, manifest)
    from babylm import train as train_mod  # torch and transformers: only when training

    marker = manifest_header("train", fp, settings) | {"inputs": inputs}
    ckpt_dir = run.checkpoints
    legacy = ckpt_dir / train_mod.LEGACY_FINGERPRINT_FILE  # checkpoints from before their manifest
    same_work = _fresh("train", settings, ckpt_dir, fp, inputs) or (
        legacy.is_file() and legacy.read_text().strip() == fp
    )
    train_mod.run_training(cfg, run_dir, marker, force, same_work)
    # The summary itself is stored once, in train/summary.json (runfolder.read_summary).
    manifest = manifest_header("train", fp, settings) | {
        "inputs": inputs,
        "summary": run.summary.name,
    }
    if process_rank() == 0:
        write_json(stage_dir / MANIFEST, manifest)  # written last: marks the stage finished
    return StageResult("train", "built", stage_dir, time.perf_counter() - start, manifest)


def _key(run: RunFolder, path: Path) -> str:
    """How a manifest names one of the run's own files among a stage's inputs."""
    return str(path.relative_to(run.root))


def run_eval(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    """Score the run's model on the tasks of its ``eval`` settings into RUN/eval/."""
    from babylm.evaluation import evaluate, print_results, result_summary, run_extra

    _require(run_dir, "train", "eval")
    run = RunFolder(run_dir)
    inputs = {_key(run, run.weights): sha256_file(run.weights)}
    for folder in cfg.eval.pairs_dirs:
        for path in sorted(Path(folder).glob("*.jsonl")):
            inputs[str(path)] = sha256_file(path)
    inputs |= suite_inputs(cfg.eval)
    if AOA_TASK in cfg.eval.tasks:  # AoA scores every word checkpoint
        from babylm.word_checkpoints import list_word_checkpoints

        weights = [folder / run.weights.name for _, folder in list_word_checkpoints(run)]
        inputs |= _hash_existing(run, weights)

    def build(out: Path) -> dict[str, Any]:
        results = evaluate(cfg.eval, run.model, out, run_extra(run), run)
        print_results(results)
        return {task: result_summary(res) for task, res in results.items()}

    return _run_stage("eval", run_dir, cfg, inputs, build, force)


def suite_inputs(ev: EvalConfig) -> dict[str, str]:
    """Hashes of the suite files read from ``eval.data_dir`` (a changed file reruns the stage)."""
    from babylm.evaluation.suite_tasks import FOLDERS, resolve_tasks

    if not ev.data_dir:
        return {}
    data_dir = Path(ev.data_dir)
    out = {}
    for task in resolve_tasks(ev.tasks, data_dir):
        folder = data_dir / FOLDERS[task]
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out[str(path)] = sha256_file(path)
    if AOA_TASK in ev.tasks:
        from babylm.evaluation.aoa_data import aoa_files

        out |= {str(p): sha256_file(p) for p in aoa_files(data_dir) if p.is_file()}
    return out


def _hash_existing(run: RunFolder, paths: list[Path]) -> dict[str, str]:
    return {_key(run, p): sha256_file(p) for p in paths if p.is_file()}


def card_inputs(run: RunFolder) -> list[Path]:
    """The files the model card is built from (``export.read_run``)."""
    from babylm.export import finetune_results

    return [
        run.config,
        run.manifest("corpus"),
        run.manifest("tokenizer"),
        run.summary,
        run.model_config,
        run.eval.result("blimp"),
        run.eval.result("supplement"),
        run.suite_eval.suite_summary,
        *finetune_results(run).values(),
    ]


def run_export(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    """Write the model card into RUN/model/README.md and check the folder loads offline."""
    _require(run_dir, "train", "export")
    run = RunFolder(run_dir)
    inputs = _hash_existing(run, card_inputs(run))

    def build(out: Path) -> dict[str, Any]:
        from babylm import export

        card = export.build_card(run, cfg)
        atomic_write_text(out / run.card.name, card)
        export.check_loads(run.model)
        atomic_write_text(run.card, card)
        files = sorted(p.name for p in run.model.iterdir())
        return {"card": _key(run, run.card), "model_files": files}

    return _run_stage("export", run_dir, cfg, inputs, build, force)


def run_report(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    """Compare the run with ``report.compare`` folders and the published rows: RUN/report/."""
    _require(run_dir, "eval", "report")
    run = RunFolder(run_dir)
    others = [Path(p) for p in cfg.report.compare]
    for other in others:
        if not other.exists():
            raise BabylmError(f"report.compare: {other} does not exist")
    own = RunFiles.of(run_dir)
    inputs = _hash_existing(run, [own.blimp, own.metrics, own.fast])
    for other in others:
        blimp = RunFiles.of(other).blimp
        if blimp.is_file():
            inputs[str(other)] = sha256_file(blimp)

    def build(out: Path) -> dict[str, Any]:
        from babylm.report import write_report

        return write_report([run_dir, *others], out, cfg.report.published, f"BLiMP: {cfg.name}")

    return _run_stage("report", run_dir, cfg, inputs, build, force)


STAGE_RUNNERS: dict[str, Callable[[Config, Path, bool], StageResult]] = {
    "corpus": run_corpus,
    "tokenizer": run_tokenizer,
    "train": run_train,
    "eval": run_eval,
    "export": run_export,
    "report": run_report,
}


def duration(seconds: float) -> str:
    """12.3 s, 4.5 min, 1 h 48 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60):02d} min"


def run_summary(run_dir: Path) -> str:
    """One screen: where each output is, and the run's headline figures."""
    from babylm.tables import percent

    run = RunFolder(run_dir)
    lines = [f"run folder {run_dir}/"]
    where = [
        ("corpus", run.train_text),
        ("tokenizer", run.tokenizer_file),
        ("model", run.weights),
        ("model card", run.card),
        ("BLiMP results", run.eval.result("blimp")),
        ("pair scores", run.eval.pairs),
        ("report", run.report_page),
        ("TensorBoard", run.tensorboard),
    ]
    for label, path in where:
        if path.exists():
            lines.append(f"  {label:<14} {path}")
    summary = run.read_summary()
    if summary:
        lines.append(
            f"parameters {summary.parameters:,} | tokens seen {summary.tokens_seen:,}"
            f" | {summary.optimizer_steps:,} steps | train wall time"
            f" {duration(summary.wall_time_s)} | best dev ppl {summary.best_dev_ppl:.1f}"
        )
    blimp_file = run.eval.result("blimp")
    if blimp_file.is_file():
        blimp = read_json(blimp_file)
        lines.append(
            f"BLiMP overall {percent(blimp['overall'], sign=True)}"
            f" | macro {percent(blimp['macro'], sign=True)}"
            f" | {blimp['n_pairs']:,} pairs | protocol {blimp['protocol']}"
        )
    return "\n".join(lines)


def parse_stages(text: str | None) -> list[str]:
    """``corpus,tokenizer`` -> the named stages in pipeline order; None -> all of them."""
    if text is None:
        return list(STAGES)
    names = [s.strip() for s in text.split(",") if s.strip()]
    for name in names:
        if name not in STAGES:
            raise BabylmError(f"--stages: unknown stage {name!r} (stages: {', '.join(STAGES)})")
    return [s for s in STAGES if s in names]

"""Run the pipeline stages into a run folder, skipping those whose inputs are unchanged."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm import corpus as corpus_mod
from babylm.config import PAIR_TASKS, Config, EvalConfig
from babylm.errors import BabylmError
from babylm.rundir import (
    MANIFEST,
    atomic_write_text,
    fingerprint,
    is_fresh,
    manifest_header,
    process_rank,
    read_manifest,
    sha256_bytes,
    sha256_file,
    staged_output,
    write_json,
    writer_lock,
)
from babylm.runfolder import (
    SUMMARY,
    exported_dev_ppl,
    is_run_folder,
    model_folder,
    read_config,
    read_summary,
    run_of,
    suite_dir,
)

RANK_WAIT_S = 3600.0
STAGES = ("corpus", "tokenizer", "train", "eval", "export", "report")


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
    """What can be checked before any work (and before the run folder exists)."""
    corpus_mod.check_budget(cfg.corpus)


def prepare_run(cfg: Config, run_dir: Path) -> None:
    """Check what can be checked before any work, then record the resolved config."""
    check_run(cfg)
    if process_rank() == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())


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
    stage_dir = run_dir / stage
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
    manifest = read_manifest(run_dir / stage)
    if manifest is None:
        raise BabylmError(
            f"{run_dir / stage}: no finished {stage} stage; run the earlier stages before"
            f" {needed_by} (babylm run PRESET --run-dir {run_dir} runs them all in order)"
        )
    return manifest


def run_corpus(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    def build(out: Path) -> dict[str, Any]:
        return corpus_mod.build_corpus(cfg.corpus, out)

    return _run_stage("corpus", run_dir, cfg, corpus_mod.corpus_inputs(cfg.corpus), build, force)


def run_tokenizer(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    _require(run_dir, "corpus", "tokenizer")
    train_file, dev_file = run_dir / "corpus" / "train.txt", run_dir / "corpus" / "dev.txt"
    inputs = {"corpus/train.txt": sha256_file(train_file), "corpus/dev.txt": sha256_file(dev_file)}

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
    inputs = {
        "corpus/train.txt": corpus_manifest["train"]["sha256"],
        "corpus/dev.txt": corpus_manifest["dev"]["sha256"],
        "tokenizer": tok_manifest["fingerprint"],
    }
    settings = stage_settings("train", cfg)
    fp = fingerprint("train", settings, inputs)
    stage_dir = run_dir / "train"
    start = time.perf_counter()
    fresh = _fresh("train", settings, stage_dir, fp, inputs)
    if not force and fresh and (run_dir / "model" / "config.json").is_file():
        manifest = read_manifest(stage_dir) or {}
        return StageResult("train", "skipped", stage_dir, time.perf_counter() - start, manifest)
    from babylm import train as train_mod  # torch and transformers: only when training

    marker = manifest_header("train", fp, settings) | {"inputs": inputs}
    ckpt_dir = run_dir / "checkpoints"
    legacy = ckpt_dir / train_mod.LEGACY_FINGERPRINT_FILE  # checkpoints from before their manifest
    same_work = _fresh("train", settings, ckpt_dir, fp, inputs) or (
        legacy.is_file() and legacy.read_text().strip() == fp
    )
    train_mod.run_training(cfg, run_dir, marker, force, same_work)
    # The summary itself is stored once, in train/summary.json (runfolder.read_summary).
    manifest = manifest_header("train", fp, settings) | {"inputs": inputs, "summary": SUMMARY.name}
    if process_rank() == 0:
        write_json(stage_dir / MANIFEST, manifest)  # written last: marks the stage finished
    return StageResult("train", "built", stage_dir, time.perf_counter() - start, manifest)


def print_results(results: dict[str, dict[str, Any]]) -> None:
    from babylm.evaluation import format_table

    suite = {t: r for t, r in results.items() if r.get("protocol") == "babylm" and "headlines" in r}
    if suite:
        noun = "task" if len(suite) == 1 else "tasks"
        print(f"BabyLM 2025 suite (official protocol; {len(suite)} {noun})")
        for res in suite.values():
            for name, value in res["headlines"].items():
                half = res.get("headline_ties_half")
                also = f"  (ties half: {half:.2f})" if half is not None else ""
                print(f"  {name:<22} {value:7.2f}{also}  [{res['n_items']:,} items]")
    for task, res in results.items():
        if task in suite:
            continue
        if task != "blimp":
            print(
                f"{task}: overall {res['overall']:.1%}, macro {res['macro']:.1%}"
                f" ({res['n_pairs']:,} pairs)"
            )
    if "blimp" in results:
        res = results["blimp"]
        print(format_table(res))
        print(f"BLiMP overall {res['overall']:.4f} ({res['n_pairs']:,} pairs)", flush=True)


def eval_extra(run_dir: Path | None) -> dict[str, Any]:
    """What results record about the run they score: its folder and the model's dev ppl."""
    if run_dir is None:
        return {}
    return {"dev_ppl": exported_dev_ppl(read_summary(run_dir)), "run": str(run_dir)}


def run_eval(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    """Score the run's model on the configured minimal-pair tasks into RUN/eval/."""
    from babylm import evaluation as ev

    _require(run_dir, "train", "eval")
    model_dir = run_dir / "model"
    inputs = {"model/model.safetensors": sha256_file(model_dir / "model.safetensors")}
    for folder in cfg.eval.pairs_dirs:
        for path in sorted(Path(folder).glob("*.jsonl")):
            inputs[str(path)] = sha256_file(path)
    inputs |= suite_inputs(cfg.eval)

    def build(out: Path) -> dict[str, Any]:
        pairs, suite = ev.select_pairs(cfg.eval), ev.select_suite(cfg.eval)
        results = ev.evaluate_model(model_dir, out, pairs, cfg.eval, eval_extra(run_dir), suite)
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
    return out


def result_summary(res: dict[str, Any]) -> dict[str, Any]:
    """What a manifest records of one task's results."""
    keys = ("headlines", "n_items") if "headlines" in res else ("overall", "macro", "n_pairs")
    return {k: res[k] for k in (*keys, "protocol")}


def read_eval_results(stage_dir: Path, ev: EvalConfig) -> dict[str, dict[str, Any]]:
    """The results an eval folder holds for ``ev``'s tasks, as ``evaluate_model`` returned."""
    from babylm.evaluation.suite_tasks import resolve_tasks

    out = {}
    for name in [t for t in ev.tasks if t in PAIR_TASKS] + [Path(p).name for p in ev.pairs_dirs]:
        out[name] = json.loads((stage_dir / f"{name}.json").read_text())
    for task in resolve_tasks(ev.tasks, Path(ev.data_dir) if ev.data_dir else None):
        out[task] = json.loads((stage_dir / "babylm" / task / "results.json").read_text())
    return out


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
    return "-".join(parts)


def evaluate_target(
    target: Path,
    ev: EvalConfig,
    out: Path | None = None,
    report: Callable[[StageResult], None] | None = None,
) -> Path:
    """``babylm eval``: a run's eval stage, or any other selection written beside it.

    On a run folder whose ``eval`` settings ``ev`` are (batch sizes aside), this is the eval
    stage: RUN/eval/ with its manifest, skipped when up to date. Any other selection goes to
    ``out`` or RUN/eval-<label>/ (a model folder: runs/eval-<name>/), so a quick look never
    replaces the results that the card and the report are built from. Returns the folder.
    """
    from babylm import evaluation as evaluate

    model_dir, run_dir = model_folder(target), run_of(target)
    cfg = None
    if run_dir is not None and is_run_folder(run_dir):
        cfg = read_config(run_dir)
        stage_dir = run_dir / "eval"
        same = dataclasses.replace(
            ev, batch_size=cfg.eval.batch_size, tokens_per_batch=cfg.eval.tokens_per_batch
        )
        into_stage = out is None or out.resolve() == stage_dir.resolve()
        if out is not None and into_stage and same != cfg.eval:
            raise BabylmError(
                f"--out {out}: that is the run's eval stage folder, which holds the run's own"
                f" eval.* settings; leave out --out to write to {run_dir}/eval-<selection>/"
            )
        if same == cfg.eval and into_stage:
            with writer_lock(run_dir):
                result = run_eval(cfg, run_dir)
            if report is not None:
                report(result)
            if result.status == "skipped":
                print_results(read_eval_results(stage_dir, cfg.eval))
            print(f"results -> {stage_dir} (the run's eval stage)")
            return stage_dir
    label = evaluation_label(ev)
    if out is None:
        out = run_dir / f"eval-{label}" if run_dir else Path("runs") / f"eval-{target.name}"
    task_pairs = evaluate.select_pairs(ev)  # bad input stops here, before any writing
    suite = evaluate.select_suite(ev)
    lock = writer_lock(run_dir) if run_dir else contextlib.nullcontext()
    with lock, staged_output(out) as tmp:
        results = evaluate.evaluate_model(
            model_dir, tmp, task_pairs, ev, eval_extra(run_dir), suite
        )
    print(
        f"results -> {out} ({label}; the run's eval stage is untouched)"
        if run_dir and cfg
        else f"results -> {out}"
    )
    print_results(results)
    return out


def _hash_existing(run_dir: Path, names: list[str]) -> dict[str, str]:
    return {n: sha256_file(run_dir / n) for n in names if (run_dir / n).is_file()}


def run_export(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    """Write the model card into RUN/model/README.md and check the folder loads offline."""
    _require(run_dir, "train", "export")
    suite = suite_dir(run_dir) / "suite.json"
    inputs = _hash_existing(run_dir, [*CARD_INPUTS, str(suite.relative_to(run_dir))])

    def build(out: Path) -> dict[str, Any]:
        from babylm import export

        card = export.build_card(run_dir)
        atomic_write_text(out / "README.md", card)
        export.check_loads(run_dir / "model")
        atomic_write_text(run_dir / "model" / "README.md", card)
        files = sorted(p.name for p in (run_dir / "model").iterdir())
        return {"card": "model/README.md", "model_files": files}

    return _run_stage("export", run_dir, cfg, inputs, build, force)


CARD_INPUTS = [
    "config.yaml",
    "corpus/manifest.json",
    "tokenizer/manifest.json",
    "train/summary.json",
    "model/config.json",
    "eval/blimp.json",
    "eval/supplement.json",
]


def run_report(cfg: Config, run_dir: Path, force: bool = False) -> StageResult:
    """Compare the run with ``report.compare`` folders and the published rows: RUN/report/."""
    _require(run_dir, "eval", "report")
    others = [Path(p) for p in cfg.report.compare]
    for other in others:
        if not other.exists():
            raise BabylmError(f"report.compare: {other} does not exist")
    inputs = _hash_existing(
        run_dir, ["eval/blimp.json", "train/metrics.jsonl", "eval-checkpoints/fast.json"]
    )
    for other in others:
        blimp = other / "eval" / "blimp.json" if (other / "eval").is_dir() else other / "blimp.json"
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
    lines = [f"run folder {run_dir}/"]
    where = [
        ("corpus", "corpus/train.txt"),
        ("tokenizer", "tokenizer/tokenizer.json"),
        ("model", "model/model.safetensors"),
        ("model card", "model/README.md"),
        ("BLiMP results", "eval/blimp.json"),
        ("pair scores", "eval/pairs.jsonl.gz"),
        ("report", "report/report.html"),
        ("TensorBoard", "train/tb"),
    ]
    for label, rel in where:
        if (run_dir / rel).exists():
            lines.append(f"  {label:<14} {run_dir / rel}")
    summary = read_summary(run_dir)
    if summary:
        lines.append(
            f"parameters {summary['parameters']:,} | tokens seen {summary['tokens_seen']:,}"
            f" | {summary['optimizer_steps']:,} steps | train wall time"
            f" {duration(summary['wall_time_s'])} | best dev ppl {summary['best_dev_ppl']:.1f}"
        )
    blimp_file = run_dir / "eval" / "blimp.json"
    if blimp_file.is_file():
        blimp = json.loads(blimp_file.read_text())
        lines.append(
            f"BLiMP overall {blimp['overall']:.1%} | macro {blimp['macro']:.1%}"
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


def evaluate_run_checkpoints(target: Path, ev: EvalConfig, out: Path | None = None) -> Path:
    """``babylm eval RUN --checkpoints``: the fast suite on every word checkpoint, written to
    ``out`` (default RUN/eval-checkpoints/) in one rename."""
    from babylm.evaluation.submission import evaluate_checkpoints

    run_dir = run_of(target)
    if run_dir is None or not is_run_folder(run_dir):
        raise BabylmError(f"{target}: --checkpoints needs a run folder (runs/<name>)")
    out = out or run_dir / "eval-checkpoints"
    with writer_lock(run_dir), staged_output(out) as tmp:
        summary = evaluate_checkpoints(run_dir, ev, tmp, eval_extra(run_dir))
    for name, entry in summary["checkpoints"].items():
        figures = ", ".join(f"{k} {v:.2f}" for k, v in entry["headlines"].items())
        print(f"{name}: {figures}")
    print(f"fast evals -> {out} (fast.json, fast_curve.png)")
    return out


def write_submission(
    run_dir: Path,
    track: str,
    out: Path | None,
    eval_dir: Path | None = None,
    checkpoints_dir: Path | None = None,
    data_dir: Path | None = None,
    allow_missing: bool = False,
) -> Path:
    """``babylm submission RUN``: the official collation of the run's suite predictions."""
    from babylm.evaluation.submission import NOT_PRODUCED, build_submission

    if eval_dir is None:
        eval_dir = suite_dir(run_dir).parent
    checkpoints_dir = checkpoints_dir or run_dir / "eval-checkpoints"
    if data_dir is None and (checkpoints_dir / "fast.json").is_file():
        recorded = json.loads((checkpoints_dir / "fast.json").read_text()).get("data_dir")
        data_dir = Path(recorded) if recorded else None
    ev = EvalConfig(tasks=["babylm"], data_dir=str(data_dir) if data_dir else None)
    content, missing = build_submission(eval_dir, checkpoints_dir, ev, track, allow_missing)
    out = out or run_dir / f"submission-{track}.json"
    atomic_write_text(out, json.dumps(content))
    for name in missing:
        print(f"submission: left out (--allow-missing): {name}", file=sys.stderr)
    print(f"submission: not produced by babylm: {', '.join(NOT_PRODUCED)}", file=sys.stderr)
    print(f"submission ({track}) -> {out}")
    return out

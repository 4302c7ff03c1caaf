"""The ``babylm`` command: one thin function per subcommand over the pipeline modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from babylm import __version__
from babylm.config import DEFAULT_PRESET, Config, list_presets, load_config, resolve_preset
from babylm.errors import EXIT_USER_ERROR, BabylmError
from babylm.pipeline import (
    STAGE_RUNNERS,
    StageResult,
    check_run,
    default_run_dir,
    parse_stages,
    prepare_run,
)
from babylm.runfolder import RunFolder, process_rank, writer_lock

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train and evaluate small language models on BabyLM-sized data.",
)

Preset = Annotated[
    str, typer.Argument(help="Preset name (see `babylm presets`) or path to a YAML config.")
]
RunDir = Annotated[
    Path | None, typer.Option("--run-dir", help="Run folder [default: runs/<preset name>].")
]
Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config field: section.key=value (repeatable)."),
]
Force = Annotated[bool, typer.Option("--force", help="Redo stages even if up to date.")]


def _csv(text: str | None) -> list[str] | None:
    """``a,b`` -> ["a", "b"]; None or empty -> None."""
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    return items or None


def _load(preset: str, overrides: list[str] | None) -> Config:
    return load_config(preset, overrides or [])


def _report(result: StageResult) -> None:
    if process_rank() > 0:  # under torchrun / accelerate launch, rank 0 speaks for all
        return
    verb = (
        "up to date, skipped" if result.status == "skipped" else f"built in {result.seconds:.1f}s"
    )
    typer.echo(f"{result.stage:<10} {verb} -> {result.path}")


def _run_stages(cfg: Config, run_dir: Path | None, stages: list[str], force: bool) -> Path:
    directory = run_dir or default_run_dir(cfg)
    check_run(cfg)  # a mistake stops before the run folder (and its lock) exists
    with writer_lock(directory):
        prepare_run(cfg, directory)
        for stage in stages:
            _report(STAGE_RUNNERS[stage](cfg, directory, force))
    return directory


@app.command()
def run(
    preset: Preset = DEFAULT_PRESET,
    run_dir: RunDir = None,
    stages: Annotated[
        str | None,
        typer.Option(help="Comma-separated stages to run, in pipeline order [default: all]."),
    ] = None,
    overrides: Overrides = None,
    force: Force = False,
) -> None:
    """Run the pipeline stages in order into the run folder, skipping finished ones.

    corpus -> tokenizer -> train -> eval -> export -> report, then a one-screen summary.
    """
    cfg = _load(preset, overrides)
    directory = _run_stages(cfg, run_dir, parse_stages(stages), force)
    if process_rank() == 0:
        from babylm.pipeline import run_summary

        typer.echo("\n" + run_summary(directory))


@app.command()
def corpus(
    preset: Preset = DEFAULT_PRESET,
    run_dir: RunDir = None,
    overrides: Overrides = None,
    force: Force = False,
) -> None:
    """Mix the training and dev text: RUN/corpus/{train,dev}.txt and manifest.json."""
    _run_stages(_load(preset, overrides), run_dir, ["corpus"], force)


@app.command()
def tokenizer(
    preset: Preset = DEFAULT_PRESET,
    run_dir: RunDir = None,
    overrides: Overrides = None,
    force: Force = False,
) -> None:
    """Train the BPE tokenizer on RUN/corpus/train.txt into RUN/tokenizer/."""
    _run_stages(_load(preset, overrides), run_dir, ["tokenizer"], force)


@app.command()
def train(
    preset: Preset = DEFAULT_PRESET,
    run_dir: RunDir = None,
    overrides: Overrides = None,
    force: Force = False,
) -> None:
    """Train the model on the run's corpus (resumes a killed run): RUN/model/, RUN/train/.

    Multi-process: torchrun --nproc_per_node N -m babylm train PRESET --run-dir DIR
    """
    _run_stages(_load(preset, overrides), run_dir, ["train"], force)


@app.command("eval")
def eval_(
    target: Annotated[Path, typer.Argument(help="A run folder (its model/) or a model folder.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Results folder [default: RUN/eval, or RUN/eval-<selection>]."),
    ] = None,
    tasks: Annotated[
        str | None,
        typer.Option(
            help="blimp, supplement, and the BabyLM 2025 suite: babylm (all of it) or any of"
            " blimp_filtered, supplement_filtered, ewok, entity_tracking, wug_adj, wug_past,"
            " comps, reading; aoa (age of acquisition over a run's word checkpoints, with"
            " --eval-data) [default: a run's own eval tasks; a model folder: blimp,supplement]."
        ),
    ] = None,
    eval_data: Annotated[
        Path | None,
        typer.Option(
            help="The official BabyLM evaluation_data/full_eval folder: EWoK, entity tracking,"
            " wug, COMPS, reading and AoA (aoa/) are read from it."
        ),
    ] = None,
    per_paradigm: Annotated[
        int | None, typer.Option(help="Pairs per paradigm (a fixed stratified subset).")
    ] = None,
    paradigms: Annotated[str | None, typer.Option(help="Only these BLiMP paradigms.")] = None,
    terms: Annotated[str | None, typer.Option(help="Only these linguistics terms.")] = None,
    fields: Annotated[str | None, typer.Option(help="Only these fields.")] = None,
    pairs_dir: Annotated[
        list[Path] | None,
        typer.Option(
            help="A folder of *.jsonl minimal pairs (repeatable); alone, only these are scored."
        ),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="BLiMP and the supplement: standard, reference or babylm (the official"
            " pipeline's). The suite's tasks always use babylm. [default: standard]"
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Sentences per forward pass.")] = 64,
    leading_space: Annotated[
        bool, typer.Option(help='Score " " + sentence, as lm-eval\'s blimp tasks do.')
    ] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            help="The suite's official backend: causal, mlm (masked LMs) or mntp (masked"
            " next-token prediction). [default: causal for a causal LM, mlm for a masked one]"
        ),
    ] = None,
    mlm_variant: Annotated[
        str | None,
        typer.Option(
            help="Masked LMs: within_word_l2r or original PLL. [default: within_word_l2r]"
        ),
    ] = None,
    scorer: Annotated[
        str | None,
        typer.Option(
            help="tree (each shared prefix once) or plain (whole sentences). [default: tree]"
        ),
    ] = None,
    tokens_per_batch: Annotated[
        int, typer.Option(help="Prefix-tree nodes per forward pass (tree scorer).")
    ] = 4096,
    checkpoints: Annotated[
        bool,
        typer.Option(
            "--checkpoints",
            help="Score the fast suite on each word checkpoint of the run (chck_<n>M) into"
            " RUN/eval-checkpoints/ [tasks default: babylm].",
        ),
    ] = False,
) -> None:
    """Score a model on BLiMP (all 67,000 pairs by default) and the BLiMP supplement, or on the
    BabyLM 2025 zero-shot suite (--tasks babylm) exactly as the official pipeline scores it.

    On a run folder without selection options (or with the run's own eval settings) this is
    the run's eval stage (RUN/eval/, skipped when up to date). Any other selection is written
    beside it, to RUN/eval-<selection>/, and never replaces the stage's results.
    """
    from babylm.config import EvalConfig
    from babylm.evaluation.run import evaluate_target

    chosen = {
        "tasks": _csv(tasks),
        "per_paradigm": per_paradigm,
        "protocol": protocol,
        "scorer": scorer,
        "leading_space": leading_space,
        "paradigms": _csv(paradigms),
        "terms": _csv(terms),
        "fields": _csv(fields),
        "pairs_dirs": [str(p) for p in pairs_dir] if pairs_dir else None,
        "mlm_variant": mlm_variant,
        "backend": backend,
        "data_dir": str(eval_data) if eval_data else None,
    }
    chosen = {k: v for k, v in chosen.items() if v not in (None, False)}
    sizes = {"batch_size": batch_size, "tokens_per_batch": tokens_per_batch}
    if checkpoints:
        from babylm.evaluation.submission import evaluate_run_checkpoints

        if "aoa" in chosen.get("tasks", []):
            raise BabylmError(
                "--checkpoints: aoa scores every word checkpoint by itself; run"
                " babylm eval RUN --tasks aoa --eval-data DIR"
            )

        evaluate_run_checkpoints(
            target, EvalConfig(**{"tasks": ["babylm"], **chosen, **sizes}), out
        )
        return
    if not chosen:  # no selection: a run's own eval stage, a model folder's default tasks
        evaluate_target(target, None, out, _report)
        return
    default_tasks = [] if pairs_dir and tasks is None else ["blimp", "supplement"]
    evaluate_target(target, EvalConfig(**{"tasks": default_tasks, **chosen, **sizes}), out, _report)


@app.command()
def submission(
    run: Annotated[Path, typer.Argument(help="A run folder (runs/<name>).")],
    track: Annotated[str, typer.Option(help="strict-small or strict.")] = "strict-small",
    out: Annotated[
        Path | None, typer.Option(help="The JSON file [default: RUN/submission-<track>.json].")
    ] = None,
    eval_dir: Annotated[
        Path | None,
        typer.Option(help="Where the full suite was scored [default: RUN/eval or eval-babylm]."),
    ] = None,
    checkpoints_dir: Annotated[
        Path | None, typer.Option(help="The fast evals [default: RUN/eval-checkpoints].")
    ] = None,
    eval_data: Annotated[
        Path | None,
        typer.Option(help="The official full_eval folder [default: the one the fast evals used]."),
    ] = None,
    allow_missing: Annotated[
        bool, typer.Option(help="Write what there is; list the missing tasks and checkpoints.")
    ] = False,
) -> None:
    """Write the BabyLM submission file that the official collate_preds.py writes from the
    same predictions: the full suite's predictions and each checkpoint's fast figures."""
    from babylm.evaluation.submission import write_submission

    write_submission(run, track, out, eval_dir, checkpoints_dir, eval_data, allow_missing)


@app.command()
def finetune(
    target: Annotated[Path, typer.Argument(help="A run folder (its model/) or a model folder.")],
    eval_data: Annotated[
        Path,
        typer.Option(
            help="The official BabyLM evaluation_data/full_eval folder (its glue_filtered/).",
        ),
    ],
    tasks: Annotated[
        str, typer.Option(help="glue (all seven) or a comma-separated list of tasks.")
    ] = "glue",
    pooling: Annotated[
        str | None,
        typer.Option(
            help="first (position 0, right padding: the official default) or final (the last"
            " real token: --take_final --padding_side left). [default: final for a causal"
            " model, first for a masked one]"
        ),
    ] = None,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-5,
    batch_size: Annotated[
        int | None, typer.Option(help="[default: 16 for BoolQ and MultiRC, else 32]")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="[default: 30 for WSC, else 10]")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    precision: Annotated[
        str, typer.Option(help="auto (bf16 on CUDA, fp32 on the CPU), fp32 or bf16.")
    ] = "auto",
    out: Annotated[
        Path | None,
        typer.Option(help="Results folder [default: RUN/finetune, or runs/finetune-<name>]."),
    ] = None,
) -> None:
    """Fine-tune a copy of the model on each (Super)GLUE task as the official BabyLM pipeline
    does, and write the official predictions files and each task's results.json."""
    from babylm.config import GLUE_TASKS, FinetuneConfig
    from babylm.finetune import finetune as run_finetune

    names = list(GLUE_TASKS) if tasks.strip() == "glue" else _csv(tasks) or []
    ft = FinetuneConfig(
        tasks=names,
        pooling=pooling,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        precision=precision,
    )
    run_finetune(target, ft, eval_data, out)


RunArg = Annotated[Path, typer.Argument(help="A run folder (runs/<name>).")]


@app.command()
def export(run: RunArg, force: Force = False) -> None:
    """Write the model card RUN/model/README.md (every number from the run's files)."""
    cfg = RunFolder(run).read_config()
    with writer_lock(run):
        _report(STAGE_RUNNERS["export"](cfg, run, force))
    typer.echo(f"model card -> {RunFolder(run).card}")


@app.command()
def report(run: RunArg, force: Force = False) -> None:
    """Compare the run with its report.compare folders and the published rows: RUN/report/."""
    cfg = RunFolder(run).read_config()
    with writer_lock(run):
        _report(STAGE_RUNNERS["report"](cfg, run, force))


@app.command()
def compare(
    folders: Annotated[
        list[Path],
        typer.Argument(
            help="Run folders or eval folders (with blimp.json); NAME=FOLDER names a column."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where report.md, report.html, *.png go.")] = Path(
        "runs/compare"
    ),
    published: Annotated[
        bool, typer.Option(help="Show the published rows (BLiMP paper, reference models).")
    ] = True,
    title: Annotated[str, typer.Option(help="The report's title.")] = "BLiMP comparison",
) -> None:
    """Compare runs side by side, with published rows: tables, plots, a self-contained HTML."""
    from babylm.report import write_report
    from babylm.runfolder import staged_output
    from babylm.tables import percent

    with staged_output(out) as tmp:
        result = write_report(folders, tmp, published, title)
    for name, res in result["runs"].items():
        overall, macro = percent(res["overall"], sign=True), percent(res["macro"], sign=True)
        typer.echo(f"{name:<30} overall {overall}  macro {macro}")
    typer.echo(f"report -> {out / 'report.html'} ({', '.join(result['files'])})")


@app.command()
def generate(
    model: Annotated[Path, typer.Argument(help="A run folder or a causal LM folder.")],
    prompt: Annotated[str, typer.Argument(help="The text to continue.")],
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to add.")] = 50,
    temperature: Annotated[float, typer.Option(help="0 for greedy decoding.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Sample from the k likeliest (0: all).")] = 50,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same text.")] = 0,
    num_samples: Annotated[int, typer.Option(help="Continuations to print.")] = 1,
) -> None:
    """Continue a prompt with model.generate."""
    from babylm.generate import Sampling
    from babylm.generate import generate as sample

    sampling = Sampling(max_new_tokens, temperature, top_k, top_p, seed, num_samples)
    for i, text in enumerate(sample(model, prompt, sampling)):
        if num_samples > 1:
            typer.echo(f"--- sample {i + 1}")
        typer.echo(text)


@app.command("model-info")
def model_info(
    preset: Preset = DEFAULT_PRESET,
    overrides: Overrides = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Parameter counts (total, embedding, non-embedding) and training FLOPs per token."""
    from babylm.model import config_for_preset, parameter_counts, train_flops_per_token

    cfg = _load(preset, overrides)
    llama = config_for_preset(cfg)
    counts = parameter_counts(llama)
    info = {
        "preset": cfg.name,
        "vocab_size": llama.vocab_size,
        "hidden_size": llama.hidden_size,
        "num_layers": llama.num_hidden_layers,
        "num_heads": llama.num_attention_heads,
        "intermediate_size": llama.intermediate_size,
        "context_length": llama.max_position_embeddings,
        "tie_embeddings": llama.tie_word_embeddings,
        "parameters": counts.total,
        "embedding_parameters": counts.embedding,
        "non_embedding_parameters": counts.non_embedding,
        "seq_len": cfg.train.seq_len,
        "train_flops_per_token": train_flops_per_token(llama, cfg.train.seq_len),
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(
        f"{cfg.name}: LlamaForCausalLM, hidden {llama.hidden_size}, {llama.num_hidden_layers}"
        f" layers, {llama.num_attention_heads} heads, intermediate {llama.intermediate_size},"
        f" context {llama.max_position_embeddings}, vocab {llama.vocab_size:,}"
        f" ({'tied' if llama.tie_word_embeddings else 'untied'} embeddings)"
    )
    typer.echo(f"parameters               {counts.total:>14,}")
    typer.echo(f"  embedding              {counts.embedding:>14,}")
    typer.echo(f"  non-embedding          {counts.non_embedding:>14,}")
    typer.echo(
        f"train FLOPs per token    {info['train_flops_per_token']:>14,}"
        f"  (seq_len {cfg.train.seq_len})"
    )


@app.command()
def presets() -> None:
    """List the presets shipped with babylm."""
    for name in list_presets():
        cfg = load_config(str(resolve_preset(name)))
        typer.echo(f"{name:<14} {cfg.description}")


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(f"babylm {__version__}")
        raise typer.Exit()


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit 2; bugs keep their traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except BabylmError as exc:
        typer.echo(f"babylm: error: {exc}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)

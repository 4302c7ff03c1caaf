"""Train stage: LlamaForCausalLM with the Hugging Face Trainer, resumable, single or multi-process.

Writes ``RUN/checkpoints/`` while training, ``RUN/train/`` (metrics.jsonl, TensorBoard events,
summary.json) and, at the end, ``RUN/model/``: a Hugging Face folder with the best checkpoint
by dev loss, the tokenizer and a generation config. Run again after a kill, it resumes from
the newest complete checkpoint and ends on the same optimizer step as an uninterrupted run.
Under ``torchrun`` / ``accelerate launch`` every rank trains and only rank 0 writes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from accelerate import PartialState
from datasets import DatasetDict
from transformers import (
    DataCollatorForLanguageModeling,
    GenerationConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerBase,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.integrations import TensorBoardCallback

from babylm import packing, word_checkpoints
from babylm.checkpoints import latest_good_checkpoint
from babylm.config import Config, uses_objective_trainer
from babylm.distill import DistillationTrainer, load_teachers
from babylm.ema import WeightAverage
from babylm.ema import trainer_hooks as ema_trainer
from babylm.errors import BabylmError
from babylm.model import llama_config, load_tokenizer, parameter_counts, train_flops_per_token
from babylm.objectives import ObjectiveCollator, ObjectiveTrainer
from babylm.runfolder import (
    MANIFEST,
    RunFolder,
    TrainSummary,
    atomic_write_text,
    process_rank,
    staged_output,
    write_json,
    write_summary,
)
from babylm.tokenizer import save_tokenizer

log = logging.getLogger("babylm.train")
LEGACY_FINGERPRINT_FILE = "fingerprint.txt"  # the checkpoints' marker before manifest.json


def _say(message: str) -> None:
    if process_rank() == 0:
        print(message, flush=True)


def resolve_precision(requested: str) -> str:
    """``auto``: bf16 (or fp16) on CUDA, fp32 elsewhere; half precision needs CUDA."""
    cuda = torch.cuda.is_available()
    if requested == "auto":
        if not cuda:
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested in ("fp16", "bf16") and not cuda:
        raise BabylmError(f"train.precision: {requested} needs a CUDA GPU; use auto or fp32")
    return requested


def _checkpointing_arg(enabled: bool) -> dict[str, bool]:
    """transformers 5 renamed ``gradient_checkpointing`` to ``activation_checkpointing``."""
    fields = TrainingArguments.__dataclass_fields__
    name = (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else "gradient_checkpointing"
    )
    return {name: enabled}


def _device_args() -> dict[str, Any]:
    """On a CPU-only machine, run on the CPU, with gloo between processes under torchrun."""
    if torch.cuda.is_available():
        return {}  # the Trainer picks the GPU and nccl
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return {"use_cpu": True, "ddp_backend": "gloo" if distributed else None}


def plan_steps(n_examples: int, cfg: Config, world_size: int) -> dict[str, int]:
    """Optimizer steps per epoch and in total (as the Trainer counts them), capped warmup."""
    tr = cfg.train
    batches = math.ceil(n_examples / (tr.batch_size * world_size))
    per_epoch = max(batches // tr.grad_accum + int(batches % tr.grad_accum > 0), 1)
    total = tr.max_steps or max(math.ceil(tr.epochs * per_epoch), 1)
    cap = max(int(tr.max_warmup_share * total), 0)
    return {
        "steps_per_epoch": per_epoch,
        "total_steps": total,
        "warmup_steps": min(tr.warmup_steps, cap),
    }


class MetricsLog(TrainerCallback):
    """Every log record to ``metrics.jsonl`` with tokens seen, tokens/s and cumulative time.

    Throughput counts only the time inside optimizer steps, so evaluation and checkpoint
    saving do not dilute it.
    """

    def __init__(self, path: Path | None, elapsed_offset: float = 0.0) -> None:
        self.path = path
        self.offset = elapsed_offset
        self.start = time.perf_counter()
        self.step_start = self.start
        self.train_seconds = 0.0
        self.steps: list[tuple[float, int]] = []
        """(seconds, tokens seen so far) at the end of each optimizer step."""
        self.last_seconds = 0.0
        self.last_tokens: int | None = None

    def elapsed(self) -> float:
        return self.offset + time.perf_counter() - self.start

    def on_step_begin(self, args, state, control, **kwargs) -> None:  # type: ignore[override]
        self.step_start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs) -> None:  # type: ignore[override]
        spent = time.perf_counter() - self.step_start
        self.train_seconds += spent
        self.steps.append((spent, state.num_input_tokens_seen))

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:  # type: ignore[override]
        if self.path is None or not state.is_world_process_zero or not logs:
            return
        record: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0, 4)}
        record.update({k: v for k, v in logs.items() if k != "num_input_tokens_seen"})
        record["tokens_seen"] = state.num_input_tokens_seen
        if "loss" in logs:
            spent = self.train_seconds - self.last_seconds
            if self.last_tokens is not None and spent > 0:
                record["tokens_per_s"] = round(
                    (state.num_input_tokens_seen - self.last_tokens) / spent, 1
                )
            self.last_tokens, self.last_seconds = state.num_input_tokens_seen, self.train_seconds
        if "eval_loss" in logs:
            record["eval_ppl"] = round(math.exp(min(logs["eval_loss"], 50)), 3)
        record["elapsed_s"] = round(self.elapsed(), 2)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


class ProgressBar(ProgressCallback):
    """The Trainer's progress bar (with ETA), showing the latest losses in the bar instead of
    printing a dictionary for every logged step; the full records are in metrics.jsonl."""

    SHOWN: ClassVar[dict[str, str]] = {
        "loss": "loss",
        "eval_loss": "dev_loss",
        "learning_rate": "lr",
    }

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:  # type: ignore[override]
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        shown = {name: f"{logs[key]:.4g}" for key, name in self.SHOWN.items() if key in logs}
        if shown:
            self.training_bar.set_postfix(shown, refresh=False)


class EvaluateEachEpoch(TrainerCallback):
    """Dev loss (and a checkpoint) at every epoch end, on top of every ``eval_steps``."""

    def __init__(self) -> None:
        self.last_eval_step = -1

    def on_evaluate(self, args, state, control, **kwargs) -> None:  # type: ignore[override]
        self.last_eval_step = state.global_step

    def on_epoch_end(self, args, state, control, **kwargs):  # type: ignore[override]
        if state.global_step != self.last_eval_step:
            control.should_evaluate = True
            control.should_save = True
        return control


def _trim_metrics(path: Path, step: int) -> float:
    """Drop records after ``step`` (they will be redone); return the elapsed time at ``step``."""
    if not path.exists():
        return 0.0
    kept, elapsed = [], 0.0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if record.get("step", 0) <= step:
            kept.append(line)
            elapsed = max(elapsed, float(record.get("elapsed_s", 0.0)))
    atomic_write_text(path, "".join(k + "\n" for k in kept))
    return elapsed


def _resume_point(ckpt_dir: Path, force: bool, same_work: bool) -> Path | None:
    """The checkpoint to resume from, or None to start over (clearing stale checkpoints).

    ``same_work``: the pipeline found the checkpoints' marker to describe this training.
    """
    if force or not same_work:
        if process_rank() == 0 and ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)
        return None
    found, broken = latest_good_checkpoint(ckpt_dir)
    for path, problem in broken:
        _say(f"train: skipping {path.name}: {problem}")
        if process_rank() == 0:
            shutil.rmtree(path, ignore_errors=True)  # or the Trainer would rotate it as a good one
    return found


def build_model(cfg: Config, tok: PreTrainedTokenizerBase) -> tuple[LlamaForCausalLM, Any]:
    """A freshly initialised (seeded) model for the tokenizer, with its generation config."""
    set_seed(cfg.train.seed)
    model_config = llama_config(
        cfg.model, len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    )
    model = LlamaForCausalLM._from_config(model_config, attn_implementation="sdpa")
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return model, model_config


def distributed_state() -> PartialState:
    """The processes of this training (one, or torchrun's), set up as the Trainer will use them:
    on a CPU-only machine on the CPU, with gloo between processes."""
    device = _device_args()
    return PartialState(cpu=device.get("use_cpu", False), backend=device.get("ddp_backend"))


def prepare_data(cfg: Config, run_dir: Path, tok: PreTrainedTokenizerBase) -> DatasetDict:
    """The run's corpus as training examples; rank 0 builds the cache, the others reuse it."""
    run = RunFolder(run_dir)
    with distributed_state().main_process_first():
        raw = packing.load_text(run.train_text, run.dev_text, run.cache)
        tr = cfg.train
        return packing.build_examples(
            raw, tok, tr.packing, tr.seq_len, count_words=tr.word_checkpoints
        )


def training_arguments(
    cfg: Config,
    output_dir: Path,
    plan: dict[str, int],
    precision: str,
    eval_steps: int | None,
) -> TrainingArguments:
    """The Trainer settings of the recipe; ``eval_steps`` None: no evaluation, no saving."""
    tr = cfg.train
    evaluate = eval_steps is not None
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=tr.batch_size,
        per_device_eval_batch_size=tr.batch_size,
        gradient_accumulation_steps=tr.grad_accum,
        learning_rate=tr.lr,
        weight_decay=tr.weight_decay,
        max_steps=plan["total_steps"],
        warmup_steps=plan["warmup_steps"],
        lr_scheduler_type="cosine_with_min_lr" if tr.min_lr_ratio else tr.lr_scheduler,
        lr_scheduler_kwargs={"min_lr_rate": tr.min_lr_ratio} if tr.min_lr_ratio else None,
        optim="adamw_torch",
        seed=tr.seed,
        data_seed=tr.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        **_checkpointing_arg(tr.gradient_checkpointing),
        eval_strategy="steps" if evaluate else "no",
        eval_steps=eval_steps,
        save_strategy="steps" if evaluate else "no",
        save_steps=eval_steps if evaluate else 500,
        save_total_limit=tr.save_total_limit,
        load_best_model_at_end=evaluate and tr.select == "best",
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=tr.logging_steps,
        include_num_input_tokens_seen="non_padding",
        # The examples hold only what the collators read (input_ids, and position_ids or
        # attention_mask; the words counted for the word checkpoints, which the collator
        # takes out): nothing to drop, and the words must reach the collator.
        remove_unused_columns=False,
        # No KV cache in training (the Trainer's default, stated because it matters): with a
        # cache, transformers ignores restarting position ids and `isolated` lines would see
        # each other.
        use_cache=False,
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        ddp_find_unused_parameters=False,
        **_device_args(),
    )


def data_collator(tok: PreTrainedTokenizerBase, isolated: bool) -> Any:
    """Batches examples: per-line attention for ``isolated`` ones, plain causal otherwise."""
    if isolated:
        return packing.IsolatedCollator(tok.pad_token_id, tok.bos_token_id)
    return DataCollatorForLanguageModeling(tokenizer=tok, mlm=False)


def objective_collator(tok: PreTrainedTokenizerBase, cfg: Config) -> ObjectiveCollator:
    """The training batches of ``train.objective`` hybrid and ``train.corrupt_rate``."""
    tr = cfg.train
    if tr.objective == "hybrid" and tok.mask_token_id is None:
        raise BabylmError(
            "train.objective: hybrid, but the run's tokenizer has no <mask>; rebuild it with"
            " tokenizer.mask_token: true (babylm run ... --stages tokenizer,train)"
        )
    return ObjectiveCollator(
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        mask_token_id=tok.mask_token_id if tr.objective == "hybrid" else None,
        vocab_size=len(tok),
        special_ids=list(tok.all_special_ids),
        mntp_share=tr.mntp_share if tr.objective == "hybrid" else 0.0,
        mask_rate=tr.mask_rate,
        corrupt_rate=tr.corrupt_rate,
    )


def make_trainer(
    model: LlamaForCausalLM,
    tok: PreTrainedTokenizerBase,
    data: DatasetDict,
    args: TrainingArguments,
    callbacks: list[TrainerCallback],
    cfg: Config | None = None,
    ema: WeightAverage | None = None,
) -> Trainer:
    """The Trainer of a run; a :class:`DistillationTrainer` when the config names teachers,
    evaluating and checkpointing the weight average when there is one (``babylm.ema``)."""
    extra: dict[str, Any] = {}
    trainer_class: type[Trainer] = Trainer
    collator = data_collator(tok, "position_ids" in data["train"].column_names)
    if cfg is not None and cfg.train.distill_from:
        trainer_class = DistillationTrainer
        extra = {
            "teachers": load_teachers(cfg.train.distill_from, tok),
            "alpha": cfg.train.distill_alpha,
            "temperature": cfg.train.distill_temperature,
        }
    elif cfg is not None and uses_objective_trainer(cfg.train):
        trainer_class = ObjectiveTrainer
        extra = {
            "eval_collator": collator,
            "z_loss": cfg.train.z_loss,
            "decay_norms": cfg.train.decay_norms,
        }
        if cfg.train.objective == "hybrid" and cfg.train.mntp_loss == "share":
            extra["mntp_weight"] = cfg.train.mntp_share
        if cfg.train.objective == "hybrid" or cfg.train.corrupt_rate:
            collator = objective_collator(tok, cfg)
    if ema is not None:
        trainer_class = ema_trainer(trainer_class)
        extra["ema"] = ema
    counter = next((c for c in callbacks if isinstance(c, word_checkpoints.WordCheckpoints)), None)
    if counter is not None and packing.WORDS in data["train"].column_names:
        trainer_class = word_checkpoints.counting_trainer(trainer_class)
        extra["counter"] = counter
        collator = word_checkpoints.WordCountingCollator(collator)
    trainer = trainer_class(
        **extra,
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        data_collator=collator,
        processing_class=tok,
        callbacks=callbacks,
    )
    if not args.disable_tqdm:
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(ProgressBar())
    return trainer


def run_training(
    cfg: Config, run_dir: Path, marker: dict[str, Any], force: bool, same_work: bool = False
) -> TrainSummary:
    """Train (or resume) and write ``RUN/model/``; return the summary (rank 0's is complete).

    ``marker`` is the train stage's manifest header (fingerprint, settings, inputs), written
    into ``RUN/checkpoints/`` so that a later call knows whether they belong to its training;
    ``same_work`` says the pipeline has found that they do (``runfolder.is_fresh`` on that
    marker, or ``fingerprint.txt`` in a folder from before it).
    """
    tr = cfg.train
    precision = resolve_precision(tr.precision)
    run = RunFolder(run_dir)
    ckpt_dir, train_dir = run.checkpoints, run.stage("train")
    resume = _resume_point(ckpt_dir, force, same_work)
    if process_rank() == 0:
        if resume is None:
            shutil.rmtree(train_dir, ignore_errors=True)
            shutil.rmtree(run.word_checkpoints, ignore_errors=True)
        train_dir.mkdir(parents=True, exist_ok=True)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        if resume is None:
            write_json(ckpt_dir / MANIFEST, marker)
    resume_step = int(resume.name.split("-")[1]) if resume else 0
    elapsed_offset = 0.0
    if process_rank() == 0:
        elapsed_offset = _trim_metrics(run.metrics, resume_step)
    if resume:
        _say(f"train: resuming from {resume} (step {resume_step})")

    tok = load_tokenizer(run.tokenizer)
    model, model_config = build_model(cfg, tok)
    data = prepare_data(cfg, run_dir, tok)
    world_size = distributed_state().num_processes
    data_stats = packing.example_stats(data["train"], tr.packing, tr.seq_len, tr.batch_size)
    plan = plan_steps(len(data["train"]), cfg, world_size)
    if plan["warmup_steps"] < tr.warmup_steps:
        _say(
            f"train: warning: warmup of {tr.warmup_steps} steps is more than"
            f" {tr.max_warmup_share:.0%} of the {plan['total_steps']} optimizer steps;"
            f" capped at {plan['warmup_steps']}"
        )
    _say(
        f"train: {len(data['train']):,} examples ({tr.packing}, seq_len {tr.seq_len},"
        f" padding {data_stats['padding_share']:.1%}), {plan['total_steps']} optimizer steps"
        f" of {tr.batch_size}x{tr.grad_accum}x{world_size}, {precision}, world size {world_size}"
    )
    eval_steps = tr.eval_steps or plan["steps_per_epoch"]
    args = training_arguments(cfg, ckpt_dir, plan, precision, eval_steps)
    metrics = MetricsLog(run.metrics, elapsed_offset)
    ema = WeightAverage(tr.ema_decay) if tr.ema_decay else None
    callbacks: list[TrainerCallback] = [metrics, EvaluateEachEpoch()]
    if ema is not None:
        callbacks.insert(0, ema)  # first: later callbacks see the step's average
    if tr.word_checkpoints:
        callbacks.append(_word_checkpoints(run, data, plan, tok, ema, resume))
    if process_rank() == 0:
        from torch.utils.tensorboard import SummaryWriter

        callbacks.append(TensorBoardCallback(SummaryWriter(str(run.tensorboard))))
    trainer = make_trainer(model, tok, data, args, callbacks, cfg, ema)
    session_start = time.perf_counter()
    tokens_before = 0
    if resume:
        tokens_before = json.loads((resume / "trainer_state.json").read_text()).get(
            "num_input_tokens_seen", 0
        )
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    session_s = time.perf_counter() - session_start
    state = trainer.state
    if ema is not None and not (args.load_best_model_at_end and state.best_model_checkpoint):
        ema.copy_to(trainer.model)  # the best checkpoint, if loaded, already holds the average
    print(
        f"train: rank {process_rank()}/{world_size} finished at optimizer step {state.global_step}",
        flush=True,
    )

    summary = _summary(
        trainer,
        metrics,
        cfg,
        TrainingRecord(
            model_config=model_config,
            plan=plan,
            data_stats=data_stats,
            dev_examples=len(data["validation"]),
            tokens_before=tokens_before,
            session_s=session_s,
            resume_step=resume_step,
            precision=precision,
        ),
    )
    if trainer.is_world_process_zero():
        trainer.model.config.use_cache = True  # the Trainer turns it off; generation wants it
        with staged_output(run.model) as out:
            trainer.model.save_pretrained(str(out), safe_serialization=True)
            save_tokenizer(tok, out)
        write_summary(run.summary, summary)
    return summary


def _word_checkpoints(
    run: RunFolder,
    data: DatasetDict,
    plan: dict[str, int],
    tok: PreTrainedTokenizerBase,
    ema: WeightAverage | None,
    resume: Path | None,
) -> word_checkpoints.WordCheckpoints:
    """The word counter and checkpoint saver, its count taken from the checkpoint resumed."""
    words = sum(data["train"][packing.WORDS])  # every line's words once: an epoch's
    seen, resumed = 0, ""
    if resume is not None:
        state = json.loads((resume / "trainer_state.json").read_text())
        counted = word_checkpoints.resumed_words(state)
        step = int(state.get("global_step", 0))
        # A checkpoint from before the count: the words an even pace would have seen.
        seen = counted if counted is not None else round(step * words / plan["steps_per_epoch"])
        resumed = f"; {seen:,} words seen by step {step}" + (
            "" if counted is not None else " (estimated)"
        )
    expected = round(words * plan["total_steps"] / plan["steps_per_epoch"])
    marks = word_checkpoints.schedule_millions(expected)
    _say(
        f"train: {words:,} words an epoch; word checkpoints at"
        f" {', '.join(f'{m}M' for m in marks) or 'none (under 1M words in all)'}{resumed}"
    )
    return word_checkpoints.WordCheckpoints(run, tok, ema, words_seen=seen)


@dataclass(frozen=True)
class TrainingRecord:
    """What a training session knew beside the Trainer's own state, for its summary."""

    model_config: Any
    plan: dict[str, int]
    data_stats: dict[str, Any]
    dev_examples: int
    tokens_before: int
    """Tokens seen before this session (a resumed run)."""
    session_s: float
    resume_step: int
    precision: str


def _summary(
    trainer: Trainer, metrics: MetricsLog, cfg: Config, rec: TrainingRecord
) -> TrainSummary:
    """What ``train/summary.json`` records about a finished training."""
    state = trainer.state
    tr = cfg.train
    model_config, plan, data_stats = rec.model_config, rec.plan, rec.data_stats
    tokens_before, session_s, resume_step = rec.tokens_before, rec.session_s, rec.resume_step
    dev_examples, precision = rec.dev_examples, rec.precision
    evals = [r for r in state.log_history if "eval_loss" in r]
    counts = parameter_counts(model_config)
    session_tokens = state.num_input_tokens_seen - tokens_before
    selected, selected_loss = selected_weights(tr.select, state, evals)
    return TrainSummary(
        wall_time_s=round(metrics.elapsed(), 1),
        session_wall_time_s=round(session_s, 1),
        resumed_from_step=resume_step,
        optimizer_steps=state.global_step,
        epochs=round(state.epoch or 0, 3),
        tokens_seen=state.num_input_tokens_seen,
        train_seconds=round(metrics.train_seconds, 1),
        useful_tokens_per_s=round(session_tokens / max(metrics.train_seconds, 1e-9), 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        final_dev_loss=evals[-1]["eval_loss"] if evals else None,
        final_dev_ppl=math.exp(evals[-1]["eval_loss"]) if evals else None,
        best_dev_loss=state.best_metric,
        best_dev_ppl=math.exp(state.best_metric) if state.best_metric is not None else None,
        best_checkpoint=Path(state.best_model_checkpoint).name
        if state.best_model_checkpoint
        else None,
        select=tr.select,
        selected_checkpoint=selected,
        selected_dev_loss=selected_loss,
        parameters=counts.total,
        non_embedding_parameters=counts.non_embedding,
        train_flops_per_token=train_flops_per_token(model_config, tr.seq_len),
        packing=tr.packing,
        seq_len=tr.seq_len,
        padding_share=data_stats["padding_share"],
        train_examples=data_stats["examples"],
        train_tokens_per_epoch=data_stats["tokens"],
        dev_examples=dev_examples,
        **plan,
        batch_size=tr.batch_size,
        grad_accum=tr.grad_accum,
        world_size=trainer.args.world_size,
        precision=precision,
        device="cuda" if torch.cuda.is_available() else "cpu",
        hardware=_hardware_name(),
        torch_threads=torch.get_num_threads(),
    )


def selected_weights(
    select: str, state: Any, evals: list[dict[str, Any]]
) -> tuple[str, float | None]:
    """Which weights are exported as ``RUN/model/`` (``train.select``), and their dev loss."""
    if select == "best" and state.best_model_checkpoint:
        return Path(state.best_model_checkpoint).name, state.best_metric
    last_eval = evals[-1] if evals and evals[-1].get("step") == state.global_step else None
    return f"step {state.global_step} (the last)", last_eval["eval_loss"] if last_eval else None


def _hardware_name() -> str:
    """The accelerator's or the CPU's model name, for the summary and the model card."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

"""The model card: RUN/model/README.md, every number read from the run's own files.

The card follows the reference model card's sections (description, architecture, training
data, training procedure, evaluation, usage, limitations) and carries Hugging Face metadata
with a model-index, so the folder can be pushed to the Hub as it is. Nothing in it is typed
by hand: if a figure is not in the run folder, the card says so instead of inventing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from babylm import __version__
from babylm.config import Config, ExportConfig, TrainConfig
from babylm.errors import BabylmError
from babylm.runfolder import RunFolder, TrainSummary, read_json
from babylm.tables import markdown_table, percent

TAGS = ["babylm", "llama", "causal-lm", "small-model"]


def read_run(folder: RunFolder, cfg: Config) -> dict[str, Any]:
    """The run's files the card is built from (``cfg`` is the run's resolved config); eval
    results are optional."""
    paths = {
        "corpus": folder.manifest("corpus"),
        "tokenizer": folder.manifest("tokenizer"),
        "summary": folder.summary,
        "model_config": folder.model_config,
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise BabylmError(
            f"{missing[0]}: missing; run the corpus, tokenizer and train stages first"
        )
    run: dict[str, Any] = {"config": cfg, "summary": folder.read_summary()}
    run |= {key: read_json(path) for key, path in paths.items() if key != "summary"}
    for task in ("blimp", "supplement"):
        path = folder.eval.result(task)
        run[task] = read_json(path) if path.is_file() else None
    run["suite"] = {
        task: read_json(path) for task, path in folder.suite_eval.suite_results().items()
    }
    run["finetune"] = {task: read_json(path) for task, path in finetune_results(folder).items()}
    return run


def finetune_results(folder: RunFolder) -> dict[str, Path]:
    """Each fine-tuned task's ``results.json`` the run holds, in the official task order."""
    from babylm.config import FINETUNE_TASKS

    found = {task: folder.finetune.task(task).results for task in FINETUNE_TASKS}
    return {task: path for task, path in found.items() if path.is_file()}


SUITE_NAMES = {
    "blimp_filtered": "BLiMP (filtered)",
    "supplement_filtered": "BLiMP supplement",
    "ewok": "EWoK",
    "entity_tracking": "Entity tracking",
    "wug_adj": "WUG adjective nominalization",
    "wug_past": "WUG past tense",
    "comps": "COMPS",
    "eye_tracking": "Reading: eye tracking",
    "self_paced_reading": "Reading: self-paced reading",
    "aoa": "Age of acquisition (Pearson r)",
}


def _suite_headlines(run: dict[str, Any]) -> list[tuple[str, str, float, int]]:
    """(task, figure name, value, items) of each suite headline in the eval stage."""
    return [
        (task, name, value, res["n_items"])
        for task, res in run.get("suite", {}).items()
        for name, value in res["headlines"].items()
    ]


def pct(x: float) -> str:
    return percent(x, sign=True)


def card_metadata(run: dict[str, Any], repo_name: str) -> ModelCardData:
    """Hub metadata: language, licence, tags, pipeline, and a model-index with BLiMP."""

    export: ExportConfig = run["config"].export
    results = []
    if run["blimp"]:
        blimp = run["blimp"]
        results.append(
            EvalResult(
                task_type="text-generation",
                task_name="Minimal-pair acceptability (BLiMP)",
                dataset_type="nyu-mll/blimp",
                dataset_name=f"BLiMP ({blimp['n_pairs']:,} pairs)",
                metric_type="accuracy",
                metric_name="BLiMP accuracy (%)",
                metric_value=round(100 * blimp["overall"], 2),
            )
        )
    for task, name, value, items in _suite_headlines(run):
        metric = "Spearman rho x 100" if task.startswith("wug") else "accuracy (%)"
        if task == "reading":
            metric = "R^2 gain (%)"
        results.append(
            EvalResult(
                task_type="text-generation",
                task_name=f"BabyLM 2025 zero-shot: {SUITE_NAMES.get(name, name)}",
                dataset_type=f"babylm-2025/{task}",
                dataset_name=f"{SUITE_NAMES.get(name, name)} ({items:,} items)",
                metric_type="accuracy" if metric == "accuracy (%)" else "other",
                metric_name=f"{SUITE_NAMES.get(name, name)} {metric}",
                metric_value=round(value, 2),
            )
        )
    data = ModelCardData(
        language=export.language,
        license=export.license,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=TAGS,
        model_name=repo_name,
        eval_results=results or None,
    )
    return data


def build_card(folder: RunFolder, cfg: Config) -> str:
    """The whole README.md text: YAML metadata, then the sections."""
    run = read_run(folder, cfg)
    name = run["config"].name
    meta = card_metadata(run, name)
    body = "\n".join(
        [
            f"# {name}",
            "",
            _description(run),
            _architecture(run),
            _training_data(run),
            _training_procedure(run),
            _evaluation(run),
            _usage(),
            _limitations(run),
        ]
    )
    return str(ModelCard(f"---\n{meta.to_yaml()}\n---\n\n{body}"))


def _description(run: dict[str, Any]) -> str:
    cfg, s = run["config"], run["summary"]
    return (
        f"{cfg.description.strip()}\n\n"
        f"A LLaMA-style causal language model with {s.parameters:,} parameters, trained from"
        f" scratch on {run['corpus']['train']['bytes']:,} bytes of BabyLM text with"
        f" babylm {run['corpus'].get('babylm_version', __version__)}"
        f" (preset `{cfg.name}`).\n"
    )


def _architecture(run: dict[str, Any]) -> str:
    mc, s = run["model_config"], run["summary"]
    rows = [
        ("architecture", ", ".join(mc.get("architectures", ["LlamaForCausalLM"]))),
        ("hidden size", mc["hidden_size"]),
        ("layers", mc["num_hidden_layers"]),
        ("attention heads", mc["num_attention_heads"]),
        ("key/value heads", mc.get("num_key_value_heads", mc["num_attention_heads"])),
        ("MLP intermediate size", mc["intermediate_size"]),
        ("context length", mc["max_position_embeddings"]),
        ("vocabulary", mc["vocab_size"]),
        ("tied input/output embeddings", mc.get("tie_word_embeddings", False)),
        ("parameters", f"{s.parameters:,}"),
        ("non-embedding parameters", f"{s.non_embedding_parameters:,}"),
    ]
    return "## Architecture\n\n" + markdown_table(["", "value"], rows) + "\n"


def _training_data(run: dict[str, Any]) -> str:
    corpus, tok = run["corpus"], run["tokenizer"]
    kind = "Unigram LM" if run["config"].tokenizer.model == "unigram" else "BPE"
    settings, train = corpus["settings"], corpus["train"]
    rows = [
        (name, f"{src['raw_bytes']:,}", f"{src['bytes']:,}", f"{src['lines']:,}", src["origin"])
        for name, src in train["sources"].items()
    ]
    rows.append(("**total**", "", f"{train['bytes']:,}", f"{train['lines']:,}", ""))
    cleaning = (
        "cleaned after cutting: Unicode NFKC, whitespace, wiki headers, empty lines"
        if settings.get("clean")
        else "not cleaned"
    )
    if settings.get("normalize"):
        cleaning += "; normalised: " + ", ".join(settings["normalize"])
    return (
        "## Training data\n\n"
        f"{settings['mixing']}: the sources are cut into {settings['chunk_bytes']:,}-byte chunks"
        f" (at line ends) and interleaved, {settings['total_bytes']:,} bytes in all ({cleaning})."
        f" Source data: `{settings['data_dir']}` ({settings['train_split']}).\n\n"
        + markdown_table(["source", "raw bytes", "bytes after cleaning", "lines", "from"], rows)
        + f"\n\nDev text for model selection: {corpus['dev']['bytes']:,} bytes,"
        f" {corpus['dev']['lines']:,} lines, from the BabyLM dev split.\n\n"
        f"Tokenizer: byte-level {kind} ({tok['style']} style), {tok['vocab_size']:,} tokens,"
        f" trained on the training text; `{tok['special_tokens']['bos']['token']}` starts"
        " every sequence.\n"
    )


def _training_procedure(run: dict[str, Any]) -> str:
    t, s = run["config"].train, run["summary"]
    hours = s.wall_time_s / 3600
    rows = [
        ("optimizer", f"AdamW, lr {t.lr:g}, weight decay {t.weight_decay:g}{_norms(t)}"),
        ("schedule", _schedule(t, s)),
        ("batch", f"{t.batch_size} x {t.grad_accum} accumulation x {_procs(s)}"),
        (
            "sequences",
            f"{s.packing} packing, {s.seq_len} tokens, {s.padding_share:.1%} padding",
        ),
        ("epochs", f"{s.epochs:g}"),
        *_objective(t),
        *_distillation(t),
        ("optimizer steps", f"{s.optimizer_steps:,}"),
        ("tokens seen", f"{s.tokens_seen:,}"),
        ("precision", s.precision),
        ("hardware", _hardware(s)),
        ("wall time", f"{s.wall_time_s:,.0f} s ({hours:.2f} h)"),
        ("best dev loss / perplexity", f"{s.best_dev_loss:.4f} / {s.best_dev_ppl:.1f}"),
        ("exported weights", _exported(s)),
    ]
    return (
        "## Training procedure\n\nHugging Face `Trainer`, settings from the run's resolved"
        " `config.yaml`, figures from `train/summary.json`:\n\n"
        + markdown_table(["", "value"], rows)
        + "\n"
    )


def _exported(s: TrainSummary) -> str:
    """Which checkpoint the card's weights are (runs before ``train.select`` lack the keys)."""
    name, select, loss = s.exported
    how = "lowest dev loss" if select == "best" else "last step"
    return f"{name} ({how}" + (f", dev loss {loss:.4f})" if loss is not None else ")")


def _schedule(t: TrainConfig, s: TrainSummary) -> str:
    decay = f" to {t.min_lr_ratio:g} x lr" if t.min_lr_ratio else ""
    return f"{t.lr_scheduler}{decay}, {s.warmup_steps} warm-up steps"


def _norms(t: TrainConfig) -> str:
    return " (norm gains included)" if t.decay_norms else ""


def _objective(t: TrainConfig) -> list[tuple[str, str]]:
    """The training objective, where it is not plain next-token prediction."""
    parts = []
    if t.objective == "hybrid":
        parts.append(
            f"hybrid causal + masked next-token prediction: {t.mntp_share:g} of the rows"
            f" masked, {t.mask_rate:g} of their tokens hidden"
        )
    if t.corrupt_rate:
        parts.append(f"{t.corrupt_rate:g} of causal inputs replaced by random tokens")
    if t.z_loss:
        parts.append(f"z-loss {t.z_loss:g}")
    return [("objective", "; ".join(parts))] if parts else []


def _distillation(t: TrainConfig) -> list[tuple[str, str]]:
    teachers = t.distill_from
    if not teachers:
        return []
    names = ", ".join(f"`{Path(x).name}`" for x in teachers)
    return [
        (
            "distillation",
            f"from {len(teachers)} teacher(s) ({names}): {t.distill_alpha:g} x cross-entropy"
            f" + {1 - t.distill_alpha:g} x KL at temperature {t.distill_temperature:g}",
        )
    ]


def _procs(s: TrainSummary) -> str:
    return f"{s.world_size} process" + ("es" if s.world_size > 1 else "")


def _hardware(s: TrainSummary) -> str:
    what = s.hardware or s.device  # runs before babylm 0.2 recorded only the device
    if s.device == "cpu":
        return f"{what}, {s.torch_threads} threads"
    return f"{what} x {s.world_size}"


def _evaluation(run: dict[str, Any]) -> str:
    blimp = run["blimp"]
    if not blimp:
        return "## Evaluation\n\nThis run has not been evaluated (`babylm eval RUN`).\n"
    lead = " after a leading space" if blimp.get("leading_space") else ""
    protocol = (
        "sum of token log-probabilities of each sentence after a BOS token, fp32, a tie counts half"
        if blimp["protocol"] == "standard"
        else blimp["protocol"]
    )
    paradigms = sorted(blimp["paradigms"].items(), key=lambda kv: kv[1]["acc"])
    fields = [(f, pct(v["acc"]), f"{v['n']:,}") for f, v in sorted(blimp["fields"].items())]
    text = [
        "## Evaluation\n",
        f"**BLiMP: {pct(blimp['overall'])}** over {blimp['n_pairs']:,} minimal pairs"
        f" (macro over paradigms {pct(blimp['macro'])}); protocol `{blimp['protocol']}`:"
        f" {protocol}{lead}.\n",
        markdown_table(["field", "accuracy", "pairs"], fields) + "\n",
        "Strongest paradigms: "
        + ", ".join(f"{k} {pct(v['acc'])}" for k, v in reversed(paradigms[-3:]))
        + ".  \nWeakest paradigms: "
        + ", ".join(f"{k} {pct(v['acc'])}" for k, v in paradigms[:3])
        + ".\n",
    ]
    if run["supplement"]:
        sup = run["supplement"]
        text.append(
            f"BLiMP supplement (BabyLM): {pct(sup['overall'])} over {sup['n_pairs']:,} pairs.\n"
        )
    if blimp.get("dev_ppl"):
        text.append(f"Dev perplexity: {blimp['dev_ppl']:.1f}.\n")
    suite = _suite_headlines(run)
    if suite:
        rows = [(SUITE_NAMES.get(n, n), f"{v:.2f}", f"{k:,}") for _, n, v, k in suite]
        text += [
            "BabyLM 2025 zero-shot suite, scored as the official pipeline scores it (the"
            " tokenizer's own special tokens; a tie goes to the first candidate):\n",
            markdown_table(["task", "score", "items"], rows) + "\n",
        ]
    return "\n".join(text + _finetuning(run))


def _finetuning(run: dict[str, Any]) -> list[str]:
    """(Super)GLUE fine-tuning (``babylm finetune``), where the run has any."""
    tuned = run.get("finetune") or {}
    if not tuned:
        return []
    rows = [
        (
            task,
            pct(res["accuracy"]),
            pct(res["f1"]) if "f1" in res else "",
            f"{res['mcc']:.3f}" if "mcc" in res else "",
            f"{res['best_epoch']} of {res['epochs']}",
            f"{res['pooling']} ({res['padding_side']} padding)",
        )
        for task, res in tuned.items()
    ]
    header = ["task", "accuracy", "F1", "MCC", "best epoch", "pooling"]
    return [
        "(Super)GLUE fine-tuning, as the official pipeline fine-tunes (validation files; the"
        " official head and defaults):\n",
        markdown_table(header, rows) + "\n",
    ]


def _usage() -> str:
    return """## Usage

```python
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

path = "."  # this folder, or its Hub name
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path).eval()

prompt = tok.bos_token + "Once upon a time"
inputs = tok(prompt, return_tensors="pt", add_special_tokens=False)
out = model.generate(
    **inputs, max_new_tokens=30, do_sample=True, top_k=50, pad_token_id=tok.pad_token_id
)
print(tok.decode(out[0], skip_special_tokens=True))

# log P(sentence), as BLiMP is scored: every token after <s>
text = tok.bos_token + "The cats sleep."
ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
with torch.no_grad():
    logp = model(ids).logits[0, :-1].float().log_softmax(-1)
print(logp.gather(-1, ids[0, 1:, None]).sum().item())
```

Or with the toolkit: `babylm generate . "Once upon a time"` and `babylm eval .`.
"""


def _limitations(run: dict[str, Any]) -> str:
    words = run["corpus"]["train"].get("words")
    size = f"about {words:,} words" if words else "a few MB of text"
    return (
        "## Limitations\n\n"
        f"A research model trained on {size} of English (encyclopedia text for children, spoken"
        " British English, film subtitles): it knows little about the world, writes fluent-looking"
        " but often meaningless text, and reflects the biases of its sources. It is meant for"
        " studying data-efficient language learning, not for any application.\n"
    )


def check_loads(model_dir: Path) -> None:
    """The folder must load with the Auto classes, offline and from safetensors only, as the
    causal LM the card's usage code loads."""
    from babylm.model import load_model, load_tokenizer

    load_model(model_dir, kind="causal")
    load_tokenizer(model_dir)

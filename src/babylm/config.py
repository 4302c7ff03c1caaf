"""Typed run configuration: one dataclass per pipeline stage, loaded from YAML presets.

A preset is a YAML file whose top-level keys are the section names below; keys it leaves out
take the dataclass defaults, which are the ``a-26m`` recipe. ``--set section.key=value``
overrides any field. Everything is validated before any work starts, and each mistake is
reported as a one-line :class:`BabylmError` naming the field.

A field added to a section must default to the behaviour from before it existed: stages that
an older babylm finished, whose manifests do not know the field, count as run at its default
(``runfolder.manifest.same_work``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from babylm.errors import BabylmError
from babylm.normalize import STEPS as NORMALIZE_STEPS

KNOWN_SOURCES = (
    "simple_wiki",
    "bnc_spoken",
    "open_subtitles",
    "childes",
    "gutenberg",
    "switchboard",
)
REFERENCE_SOURCES = ["simple_wiki", "bnc_spoken", "open_subtitles"]
PACKING_MODES = ("reference", "packed", "sentence", "isolated")
OBJECTIVES = ("causal", "hybrid")
MNTP_LOSSES = ("pooled", "share")
TOKENIZER_MODELS = ("bpe", "unigram")
TOKENIZER_STYLES = ("standard", "reference")
SCORERS = ("tree", "plain")
PROTOCOLS = ("standard", "reference", "babylm")
PAIR_TASKS = ("blimp", "supplement")
SUITE_TASKS = (
    "blimp_filtered",
    "supplement_filtered",
    "ewok",
    "entity_tracking",
    "wug_adj",
    "wug_past",
    "comps",
    "reading",
)
"""The BabyLM 2025 zero-shot suite (``babylm.evaluation.suite``); ``babylm`` names them all."""
AOA_TASK = "aoa"
"""Age of acquisition (``babylm.evaluation.aoa``): a run's word checkpoints, with the official
AoA data; not part of ``babylm``, which any model folder can be scored on."""
EVAL_TASKS = (*PAIR_TASKS, *SUITE_TASKS, "babylm", AOA_TASK)
MLM_VARIANTS = ("within_word_l2r", "original")
STANDARD_SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")
MASK_TOKEN = "<mask>"
"""The fourth special token (id 3) of a standard tokenizer with ``tokenizer.mask_token``."""
DEFAULT_PRESET = "plus-22m"
KiB = 1024
MiB = 1024 * KiB


@dataclass
class CorpusConfig:
    """Which BabyLM text to mix, how much of it, and how."""

    data_dir: str | None = None
    """A BabyLM folder (``train_10M/``, ``train_100M/``, ``dev/``); None: the embedded prefixes."""
    train_split: str = "train_10M"
    sources: list[str] = field(default_factory=lambda: list(REFERENCE_SOURCES))
    total_bytes: int = 2 * MiB
    dev_bytes: int = 256 * KiB
    chunk_bytes: int = 256 * KiB
    clean: bool = True
    """NFKC, whitespace normalised, wiki headers and empty lines dropped, cuts on line ends."""
    normalize: list[str] = field(default_factory=list)
    """Extra steps after cleaning (``babylm.normalize.STEPS``): markup, punctuation, fillers,
    join, caps, sentences. They run in that order whatever the order listed."""


@dataclass
class TokenizerConfig:
    """Byte-level BPE settings."""

    style: str = "standard"
    """standard: <pad>=0 <s>=1 </s>=2, <s> prepended. reference: the reference card's tokenizer."""
    vocab_size: int = 16_000
    """standard: total ids including specials. reference: BPE entries (2 specials appended)."""
    min_frequency: int = 2
    lowercase: bool = False
    """Lowercase every text (a normaliser inside the tokenizer, so scoring lowercases too)."""
    model: str = "bpe"
    """standard style: bpe (byte-level BPE) or unigram (a byte-level Unigram LM)."""
    mask_token: bool = False
    """standard style: add ``<mask>`` (id 3) to the specials; train.objective hybrid needs it."""


@dataclass
class ModelConfig:
    """LlamaForCausalLM shape."""

    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 6
    num_kv_heads: int | None = None
    intermediate_size: int = 1536
    context_length: int = 512
    vocab_size: int | None = None
    """None: take it from the tokenizer (the usual case)."""
    tie_embeddings: bool = False
    rope_theta: float = 10_000.0
    rms_norm_eps: float = 1e-6
    dropout: float = 0.0
    init_std: float = 0.02


@dataclass
class TrainConfig:
    """Optimisation recipe (used by the train stage)."""

    epochs: float = 5.0
    max_steps: int | None = None
    """Optimizer steps; overrides epochs when set."""
    lr: float = 3e-4
    batch_size: int = 16
    grad_accum: int = 4
    warmup_steps: int = 200
    weight_decay: float = 0.0
    lr_scheduler: str = "cosine"
    seq_len: int = 128
    packing: str = "sentence"
    seed: int = 42
    precision: str = "auto"
    """auto: bf16/fp16 on CUDA, fp32 on CPU. Or fp32, fp16, bf16."""
    gradient_checkpointing: bool = False
    eval_steps: int | None = None
    """Dev loss every this many optimizer steps, as well as at every epoch end."""
    save_total_limit: int = 2
    select: str = "best"
    """Which weights become ``RUN/model/``: best (lowest dev loss) or last (the annealed end)."""
    logging_steps: int = 1
    max_warmup_share: float = 0.1
    """Warmup is capped at this share of all optimizer steps (with a warning)."""
    min_lr_ratio: float = 0.0
    """Cosine schedule only: decay to this fraction of ``lr`` instead of to zero."""
    distill_from: list[str] = field(default_factory=list)
    """Teacher runs (or model folders) sharing this run's tokenizer: BabyLlama distillation."""
    distill_alpha: float = 0.5
    """Weight of the observed-token loss; the teachers' soft targets get the rest."""
    distill_temperature: float = 2.0
    word_checkpoints: bool = False
    """Save the BabyLM challenge's checkpoints (``RUN/word_checkpoints/chck_<n>M``: every 1M
    words seen up to 10M, every 10M up to 100M, then every 100M; ``babylm.word_checkpoints``)."""
    objective: str = "causal"
    """causal: next-token prediction. hybrid: GPT-BERT's causal + masked next-token mix
    (``babylm.objectives``; needs packing isolated and tokenizer.mask_token)."""
    mntp_share: float = 0.125
    """hybrid: the share of each batch's rows trained by masked next-token prediction."""
    mask_rate: float = 0.15
    """hybrid: the share of an MNTP row's tokens that are hidden (80% <mask>, 10% random)."""
    mntp_loss: str = "pooled"
    """hybrid: how the two losses combine. share: GPT-BERT's, each objective's mean weighted
    by its share of rows. pooled: one mean over all labelled tokens, where MNTP weighs about
    2% at 1 row in 8 and 15% hidden (the behaviour before this field)."""
    corrupt_rate: float = 0.0
    """Causal rows: the share of input tokens replaced by random ones, labels kept (isolated)."""
    z_loss: float = 0.0
    """Weight of the z-loss, logsumexp(logits)^2 per labelled position (PaLM uses 1e-4)."""
    decay_norms: bool = False
    """Weight decay on every weight, norms included (the Trainer's default spares norms)."""
    ema_decay: float = 0.0
    """An exponential moving average of the weights, as the model (``babylm.ema``): its decay
    per optimizer step (e.g. 0.999); 0: off."""


GLUE_TASKS = ("boolq", "multirc", "rte", "wsc", "mrpc", "qqp", "mnli")
"""The seven (Super)GLUE tasks of the BabyLM evaluation, in the official script's order."""
FINETUNE_TASKS = (*GLUE_TASKS, "cola", "sst2", "qnli")
"""Also read by the official fine-tuning code, though not in its script."""
POOLINGS = ("first", "final")
SUITE_BACKENDS = ("auto", "causal", "mlm", "mntp")
FINETUNE_PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class FinetuneConfig:
    """(Super)GLUE fine-tuning (``babylm finetune``). Every default is the official BabyLM
    pipeline's (``eval_finetuning.sh``); None means the task's own official value."""

    tasks: list[str] = field(default_factory=lambda: list(GLUE_TASKS))
    pooling: str | None = None
    """``first``: position 0 with right padding (the official default); ``final``: the last
    real token, the official ``--take_final --padding_side left``. None: final for a causal
    model (whose first position has seen only the first token), first for a masked one."""
    lr: float = 3e-5
    batch_size: int | None = None
    """None: 16 for BoolQ and MultiRC, 32 for the others."""
    valid_batch_size: int = 64
    epochs: int | None = None
    """None: 30 for WSC, 10 for the others."""
    seed: int = 42
    max_length: int = 512
    weight_decay: float = 0.01
    warmup_proportion: float = 0.06
    min_factor: float = 0.1
    classifier_dropout: float = 0.1
    classifier_layer_norm_eps: float = 1.0e-5
    precision: str = "auto"
    """``auto``: bf16 autocast on CUDA, fp32 on the CPU (where the official code's figures
    are reproduced exactly); or ``fp32``, ``bf16``."""


@dataclass
class EvalConfig:
    """Evaluation settings (the eval stage and ``babylm eval``): BLiMP and the supplement
    under our protocol, and the BabyLM 2025 suite under the official one."""

    tasks: list[str] = field(default_factory=lambda: ["blimp", "supplement"])
    backend: str = "auto"
    """The BabyLM suite's official backend: ``causal``, ``mlm`` (a masked LM), ``mntp``
    (masked next-token prediction: masked LMs and our hybrid runs); ``auto``: causal for a
    causal LM, mlm for a masked one."""
    per_paradigm: int | None = None
    """Pairs per paradigm (a deterministic stratified subset); None: all 1,000."""
    protocol: str = "standard"
    scorer: str = "tree"
    """tree: each shared prefix computed once (fastest); plain: length-sorted batches."""
    batch_size: int = 64
    """Sentences per forward pass (plain scorer, masked LMs)."""
    tokens_per_batch: int = 4096
    """Prefix-tree nodes per forward pass (tree scorer)."""
    leading_space: bool = False
    """Score " " + sentence, as lm-eval-harness's own blimp tasks do."""
    paradigms: list[str] = field(default_factory=list)
    """Only these BLiMP paradigms (empty: all 67)."""
    terms: list[str] = field(default_factory=list)
    """Only the BLiMP paradigms of these linguistic terms (empty: all)."""
    fields: list[str] = field(default_factory=list)
    """Only the BLiMP paradigms of these fields (empty: all)."""
    pairs_dirs: list[str] = field(default_factory=list)
    """Folders of ``*.jsonl`` minimal pairs, each scored as a task named after the folder."""
    mlm_variant: str = "within_word_l2r"
    """Masked LMs: pseudo-log-likelihood variant, within_word_l2r or original."""
    data_dir: str | None = None
    """The official BabyLM 2025 ``evaluation_data/full_eval`` folder: the suite tasks that are
    not embedded (EWoK, entity tracking, wug, COMPS, reading) and AoA are read from it."""

    def is_full(self) -> bool:
        """Every pair of every task it names: no subset, no filter."""
        return self.per_paradigm is None and not (self.paradigms or self.terms or self.fields)


@dataclass
class ExportConfig:
    """The model card written into RUN/model/README.md (export stage)."""

    license: str = "cc-by-sa-4.0"
    """The card's licence tag. The training text includes CC BY-SA Simple English Wikipedia."""
    language: str = "en"


@dataclass
class ReportConfig:
    """The comparison report in RUN/report/ (report stage)."""

    compare: list[str] = field(default_factory=list)
    """Other run or eval folders to show beside this run."""
    published: bool = True
    """Also show the published rows (BLiMP paper models, human agreement, reference models)."""


@dataclass
class Config:
    """A whole run: what ``runs/<name>/config.yaml`` holds."""

    name: str = "a-26m"  # the dataclass defaults are the a-26m recipe
    description: str = ""
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


SECTIONS: dict[str, type] = {
    "corpus": CorpusConfig,
    "tokenizer": TokenizerConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "export": ExportConfig,
    "report": ReportConfig,
}


# ---------------------------------------------------------------- presets


def preset_dir() -> Path:
    """The folder of the presets shipped with the package (``configs/`` in the repo)."""
    return Path(str(resources.files("babylm") / "configs"))


def list_presets() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def resolve_preset(preset: str) -> Path:
    """A preset name (``a-26m``) or a path to a YAML file."""
    path = Path(preset)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise BabylmError(f"{preset}: no such config file")
        return path
    candidate = preset_dir() / f"{preset}.yaml"
    if not candidate.is_file():
        raise BabylmError(f"unknown preset {preset!r} (presets: {', '.join(list_presets())})")
    return candidate


def load_config(preset: str = DEFAULT_PRESET, overrides: list[str] | None = None) -> Config:
    """Load a preset, apply ``section.key=value`` overrides, and validate the result."""
    path = resolve_preset(preset)
    raw = _read_yaml(path)
    cfg = _from_dict(raw, origin=str(path))
    if "name" not in raw:
        cfg.name = path.stem
    for item in overrides or []:
        apply_override(cfg, item)
    validate(cfg)
    return cfg


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise BabylmError(f"{path}{where}: invalid YAML: {exc.problem}") from None
    except UnicodeDecodeError as exc:
        raise BabylmError(f"{path}: not UTF-8 (byte offset {exc.start})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BabylmError(f"{path}: a config must be a mapping of sections")
    return data


def _from_dict(raw: dict[str, Any], origin: str) -> Config:
    cfg = Config()
    for key, value in raw.items():
        if key in ("name", "description"):
            setattr(cfg, key, "" if value is None else str(value))
            continue
        if key not in SECTIONS:
            raise BabylmError(
                f"{origin}: unknown key {key!r} (allowed: name, description, {', '.join(SECTIONS)})"
            )
        if value is None:
            continue
        if not isinstance(value, dict):
            raise BabylmError(f"{origin}: section {key!r} must be a mapping")
        for sub, sub_value in value.items():
            set_field(cfg, f"{key}.{sub}", sub_value, origin=origin)
    return cfg


def apply_override(cfg: Config, item: str) -> None:
    """Apply one ``section.key=value`` string; the value is parsed as YAML."""
    if "=" not in item:
        raise BabylmError(f"--set {item!r}: expected section.key=value")
    dotted, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    set_field(cfg, dotted.strip(), value, origin="--set")


def set_field(cfg: Config, dotted: str, value: Any, origin: str = "config") -> None:
    """Set ``section.key`` on ``cfg``, coercing ``value`` to the field's declared type."""
    section_name, _, key = dotted.partition(".")
    if section_name in ("name", "description") and not key:
        setattr(cfg, section_name, str(value))
        return
    section_type = SECTIONS.get(section_name)
    if section_type is None or not key:
        raise BabylmError(f"{origin}: unknown key {dotted!r} (sections: {', '.join(SECTIONS)})")
    hints = typing.get_type_hints(section_type)
    if key not in hints:
        known = ", ".join(f"{section_name}.{k}" for k in hints)
        raise BabylmError(f"{origin}: unknown key {dotted!r} (known: {known})")
    section = getattr(cfg, section_name)
    setattr(section, key, _coerce(dotted, hints[key], value))


def _coerce(name: str, annotation: Any, value: Any) -> Any:
    """Check/convert a YAML value to ``annotation`` (int, float, bool, str, list[str], X|None)."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(name, inner, value)
    if typing.get_origin(annotation) is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise BabylmError(f"{name}: expected a list, got {value!r}")
        return [_coerce(name, args[0], v) for v in value]
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise BabylmError(f"{name}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value.replace("_", ""))
        if isinstance(value, bool) or not isinstance(value, int):
            raise BabylmError(f"{name}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BabylmError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise BabylmError(f"{name}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"{name}: unsupported field type {annotation!r}")  # a bug, not user error


# ---------------------------------------------------------------- validation


def validate(cfg: Config) -> None:
    """Check values that are wrong whatever the data (the corpus stage checks sizes)."""
    c, t, m, tr, ev = cfg.corpus, cfg.tokenizer, cfg.model, cfg.train, cfg.eval
    if not c.sources:
        raise BabylmError("corpus.sources: at least one source is needed")
    if len(set(c.sources)) != len(c.sources):
        raise BabylmError(f"corpus.sources: a source is listed twice: {c.sources}")
    if c.data_dir is None:
        for name in c.sources:
            if name not in KNOWN_SOURCES:
                raise BabylmError(
                    f"corpus.sources: unknown source {name!r} (known: {', '.join(KNOWN_SOURCES)})"
                )
    for key in ("total_bytes", "dev_bytes", "chunk_bytes"):
        _positive(f"corpus.{key}", getattr(c, key))
    for step in c.normalize:
        if step not in NORMALIZE_STEPS:
            raise BabylmError(
                f"corpus.normalize: unknown step {step!r} (known: {', '.join(NORMALIZE_STEPS)})"
            )
    if c.normalize and not c.clean:
        raise BabylmError("corpus.normalize: needs corpus.clean (the steps work on whole lines)")

    if t.style not in TOKENIZER_STYLES:
        raise BabylmError(f"tokenizer.style: {t.style!r} is not one of {TOKENIZER_STYLES}")
    n_special = len(STANDARD_SPECIAL_TOKENS) if t.style == "standard" else 0
    if t.vocab_size < 256 + n_special:
        raise BabylmError(
            f"tokenizer.vocab_size: {t.vocab_size} is smaller than the 256 byte symbols"
            f" + {n_special} special tokens"
        )
    _positive("tokenizer.min_frequency", t.min_frequency, allow_zero=True)

    for key in ("hidden_size", "num_layers", "num_heads", "intermediate_size", "context_length"):
        _positive(f"model.{key}", getattr(m, key))
    if m.hidden_size % m.num_heads:
        raise BabylmError(
            f"model.num_heads: {m.num_heads} does not divide model.hidden_size {m.hidden_size}"
        )
    if (m.hidden_size // m.num_heads) % 2:
        raise BabylmError(
            f"model.num_heads: head size {m.hidden_size // m.num_heads} must be even for RoPE"
        )
    if m.num_kv_heads is not None:
        _positive("model.num_kv_heads", m.num_kv_heads)
        if m.num_heads % m.num_kv_heads:
            raise BabylmError(
                f"model.num_kv_heads: {m.num_kv_heads} does not divide model.num_heads"
                f" {m.num_heads}"
            )
    if m.vocab_size is not None and m.vocab_size < expected_vocab_size(t):
        raise BabylmError(
            f"model.vocab_size: {m.vocab_size} is smaller than the tokenizer's"
            f" {expected_vocab_size(t)}"
        )
    if not 0.0 <= m.dropout < 1.0:
        raise BabylmError(f"model.dropout: {m.dropout} is not in [0, 1)")

    _positive("train.epochs", tr.epochs)
    if tr.max_steps is not None:
        _positive("train.max_steps", tr.max_steps)
    _positive("train.lr", tr.lr)
    for key in ("batch_size", "grad_accum", "seq_len"):
        _positive(f"train.{key}", getattr(tr, key))
    _positive("train.warmup_steps", tr.warmup_steps, allow_zero=True)
    _positive("train.logging_steps", tr.logging_steps)
    _positive("train.save_total_limit", tr.save_total_limit)
    if tr.eval_steps is not None:
        _positive("train.eval_steps", tr.eval_steps)
    if not 0.0 < tr.max_warmup_share <= 1.0:
        raise BabylmError(f"train.max_warmup_share: {tr.max_warmup_share} is not in (0, 1]")
    _positive("train.weight_decay", tr.weight_decay, allow_zero=True)
    if not 0.0 <= tr.min_lr_ratio < 1.0:
        raise BabylmError(f"train.min_lr_ratio: {tr.min_lr_ratio} is not in [0, 1)")
    if tr.min_lr_ratio and tr.lr_scheduler != "cosine":
        raise BabylmError("train.min_lr_ratio: only the cosine schedule has a floor here")
    if not 0.0 <= tr.distill_alpha <= 1.0:
        raise BabylmError(f"train.distill_alpha: {tr.distill_alpha} is not in [0, 1]")
    _positive("train.distill_temperature", tr.distill_temperature)
    if tr.select not in ("best", "last"):
        raise BabylmError(f"train.select: {tr.select!r} is not best or last")
    if tr.packing not in PACKING_MODES:
        raise BabylmError(f"train.packing: {tr.packing!r} is not one of {PACKING_MODES}")
    if tr.seq_len > m.context_length:
        raise BabylmError(
            f"train.seq_len: {tr.seq_len} is longer than model.context_length {m.context_length}"
        )
    _check_objective(cfg)
    if tr.precision not in ("auto", "fp32", "fp16", "bf16"):
        raise BabylmError(f"train.precision: {tr.precision!r} is not auto, fp32, fp16 or bf16")

    validate_eval(ev)
    if AOA_TASK in ev.tasks and not tr.word_checkpoints:
        raise BabylmError(
            "eval.tasks: aoa fits each word over the run's word checkpoints; set"
            " train.word_checkpoints=true"
        )


def validate_finetune(ft: FinetuneConfig) -> None:
    """The fine-tuning settings, checked before any model is loaded."""
    for task in ft.tasks:
        if task not in FINETUNE_TASKS:
            known = ", ".join(FINETUNE_TASKS)
            raise BabylmError(f"--tasks: unknown task {task!r} (known: {known}, or glue)")
    if not ft.tasks:
        raise BabylmError("--tasks: no task to fine-tune")
    if ft.pooling is not None and ft.pooling not in POOLINGS:
        raise BabylmError(f"--pooling: {ft.pooling!r} is not one of {', '.join(POOLINGS)}")
    if ft.precision not in FINETUNE_PRECISIONS:
        known = ", ".join(FINETUNE_PRECISIONS)
        raise BabylmError(f"--precision: {ft.precision!r} is not one of {known}")
    _positive("finetune.lr", ft.lr)
    for key in ("batch_size", "epochs"):
        if getattr(ft, key) is not None:
            _positive(f"finetune.{key}", getattr(ft, key))
    _positive("finetune.valid_batch_size", ft.valid_batch_size)
    _positive("finetune.max_length", ft.max_length)
    for key in ("warmup_proportion", "min_factor", "classifier_dropout", "weight_decay"):
        if not 0.0 <= getattr(ft, key) <= 1.0:
            raise BabylmError(f"finetune.{key}: {getattr(ft, key)} is not in [0, 1]")


def validate_eval(ev: EvalConfig) -> None:
    """The evaluation settings, checked once for the eval stage and ``babylm eval`` alike
    (and before any training, so a bad setting never waits for hours to stop a run)."""
    for task in ev.tasks:
        if task not in EVAL_TASKS:
            raise BabylmError(f"eval.tasks: unknown task {task!r} (known: {', '.join(EVAL_TASKS)})")
    if not ev.tasks and not ev.pairs_dirs:
        raise BabylmError("eval.tasks: nothing to evaluate: name a task or eval.pairs_dirs")
    names = list(ev.tasks)
    for folder in map(Path, ev.pairs_dirs):
        if not folder.is_dir():
            raise BabylmError(f"eval.pairs_dirs: {folder}: no such folder of minimal pairs")
        if not any(folder.glob("*.jsonl")):
            raise BabylmError(f"eval.pairs_dirs: {folder}: no *.jsonl files")
        if folder.name in names:
            raise BabylmError(
                f"eval.pairs_dirs: {folder}: a task named {folder.name!r} is already selected"
            )
        names.append(folder.name)
    if ev.per_paradigm is not None:
        _positive("eval.per_paradigm", ev.per_paradigm)
    if ev.backend not in SUITE_BACKENDS:
        known = ", ".join(SUITE_BACKENDS)
        raise BabylmError(f"eval.backend: {ev.backend!r} is not one of {known}")
    if ev.protocol not in PROTOCOLS:
        raise BabylmError(f"eval.protocol: {ev.protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if ev.data_dir is not None and not Path(ev.data_dir).is_dir():
        raise BabylmError(f"eval.data_dir: {ev.data_dir}: no such folder")
    if AOA_TASK in ev.tasks and ev.data_dir is None:
        raise BabylmError(
            "eval.tasks: aoa needs eval.data_dir (--eval-data DIR: the official full_eval,"
            " with aoa/cdi_childes.json and aoa/cdi_human.csv)"
        )
    _positive("eval.batch_size", ev.batch_size)
    _positive("eval.tokens_per_batch", ev.tokens_per_batch)
    if ev.scorer not in SCORERS:
        raise BabylmError(f"eval.scorer: {ev.scorer!r} is not one of {', '.join(SCORERS)}")
    if ev.mlm_variant not in MLM_VARIANTS:
        raise BabylmError(
            f"eval.mlm_variant: {ev.mlm_variant!r} is not one of {', '.join(MLM_VARIANTS)}"
        )


def _check_objective(cfg: Config) -> None:
    """The training-objective options of ``babylm.objectives`` and what they need."""
    tr, t = cfg.train, cfg.tokenizer
    if tr.objective not in OBJECTIVES:
        raise BabylmError(f"train.objective: {tr.objective!r} is not one of {OBJECTIVES}")
    if tr.mntp_loss not in MNTP_LOSSES:
        raise BabylmError(f"train.mntp_loss: {tr.mntp_loss!r} is not one of {MNTP_LOSSES}")
    if t.model not in TOKENIZER_MODELS:
        raise BabylmError(f"tokenizer.model: {t.model!r} is not one of {TOKENIZER_MODELS}")
    if t.style != "standard" and (t.model != "bpe" or t.mask_token):
        raise BabylmError("tokenizer.model and tokenizer.mask_token: need tokenizer.style standard")
    for key in ("mntp_share", "mask_rate", "corrupt_rate"):
        if not 0.0 <= getattr(tr, key) <= 1.0:
            raise BabylmError(f"train.{key}: {getattr(tr, key)} is not in [0, 1]")
    _positive("train.z_loss", tr.z_loss, allow_zero=True)
    if not 0.0 <= tr.ema_decay < 1.0:
        raise BabylmError(f"train.ema_decay: {tr.ema_decay} is not in [0, 1) (0: off)")
    if tr.objective == "hybrid":
        if not t.mask_token:
            raise BabylmError("train.objective: hybrid needs tokenizer.mask_token: true")
        if not 0.0 < tr.mntp_share < 1.0 or tr.mask_rate == 0.0:
            raise BabylmError(
                "train.objective: hybrid needs train.mntp_share in (0, 1) and train.mask_rate > 0"
            )
    if (tr.objective == "hybrid" or tr.corrupt_rate) and tr.packing != "isolated":
        raise BabylmError(
            f"train.packing: {tr.packing!r}; train.objective hybrid and train.corrupt_rate"
            " need isolated lines (packing: isolated)"
        )
    if uses_objective_trainer(tr) and tr.distill_from:
        raise BabylmError(
            "train.distill_from: not combined with train.objective hybrid, corrupt_rate,"
            " z_loss or decay_norms"
        )


def uses_objective_trainer(tr: TrainConfig) -> bool:
    """Whether training needs ``babylm.objectives`` (anything but the plain causal recipe)."""
    return bool(tr.objective != "causal" or tr.corrupt_rate or tr.z_loss or tr.decay_norms)


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise BabylmError(f"{name}: must be {bound}, got {value}")


def expected_vocab_size(tok: TokenizerConfig) -> int:
    """Ids the trained tokenizer will have if the corpus is large enough to fill its vocab."""
    if tok.style == "reference":
        return tok.vocab_size + 2  # <|endoftext|> and <pad> are appended after the BPE entries
    return tok.vocab_size

"""Shared fixtures: an in-process CLI runner and small user-style BabyLM folders."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

from babylm.cli import main
from babylm.config import ModelConfig, TokenizerConfig
from babylm.model import llama_config
from babylm.tokenizer import save_tokenizer, train_tokenizer


def require(module: str):
    """Import a reference implementation (an oracle) for an exactness test.

    Outside CI a missing oracle skips the test; under ``CI=true`` it fails it, so an exactness
    check can never pass CI by silently not running.
    """
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


@pytest.fixture
def kill_when() -> Callable[[list[str], Path], None]:
    """Start ``args`` (offline) and SIGKILL it as soon as ``marker`` exists: a crash mid-run."""

    def run(args: list[str], marker: Path, timeout: float = 300) -> None:
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        out = subprocess.DEVNULL
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        try:
            while not marker.exists():
                assert proc.poll() is None, "the run ended before it could be killed"
                assert time.monotonic() < deadline, f"timed out waiting for {marker}"
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    return run


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``babylm ARGS...`` in-process and return its exit code and output."""

    def run(*args: str) -> CliResult:
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


SAMPLE_LINES = {
    "simple_wiki": [
        "= = = Zürich = = =",
        "Zürich is the largest city in Switzerland.",
        "It lies at the north end of Lake Zürich.",
        "",
    ],
    "bnc_spoken": ["Yeah.", "I   told  you so, didn't I?", "Mm.", "Where's the kettle gone?"],
    "open_subtitles": ["Come here!", "What's the matter with you?", "Nothing. — I'm fine.", "Go."],
}


def _numbered(line: str, i: int) -> str:
    """Vary the lines so BPE has something to learn; keep headers and blank lines as they are."""
    return f"{line}\n" if not line or line.startswith("=") else f"{line} {i}\n"


def write_babylm_folder(root: Path, repeat: int = 40) -> Path:
    """A BabyLM-shaped folder (train_10M/, dev/) with a few KB per source."""
    for split, folder in (("train", "train_10M"), ("dev", "dev")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, lines in SAMPLE_LINES.items():
            body = "".join(_numbered(line, i) for i in range(repeat) for line in lines)
            (root / folder / f"{name}.{split}").write_text(body, encoding="utf-8")
    return root


@pytest.fixture
def babylm_folder(tmp_path: Path) -> Path:
    return write_babylm_folder(tmp_path / "babylm")


TINY_SENTENCES = [
    "The cat sat on the mat.",
    "The cats sat on the mat.",
    "Who did the dog see?",
    "A",
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny LLaMA with a real BPE tokenizer, saved as a Hugging Face folder."""
    folder = tmp_path_factory.mktemp("tiny")
    corpus = folder / "train.txt"
    corpus.write_text("\n".join(TINY_SENTENCES * 20) + "\n", encoding="utf-8")
    tok = train_tokenizer(TokenizerConfig(vocab_size=300), corpus, 64)
    torch.manual_seed(0)
    shape = ModelConfig(
        hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, context_length=64
    )
    model = LlamaForCausalLM(llama_config(shape, len(tok), 1, 2, 0)).eval()
    model.save_pretrained(str(folder / "model"))
    save_tokenizer(tok, folder / "model")
    return folder / "model"


SMOKE_FAST = ["--set", "train.max_steps=12", "--set", "train.eval_steps=6"]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``babylm run smoke`` once, all stages (12 steps): the run folder and what it printed."""
    run_dir = tmp_path_factory.mktemp("smoke") / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["run", "smoke", "--run-dir", str(run_dir), *SMOKE_FAST])
        except SystemExit as exc:
            assert not exc.code, out.getvalue()
    return run_dir, out.getvalue()


SENTENCES = ["The cat sat on the mat.", "Who did the dog see?", "Unbelievably, dogs bark."]


@pytest.fixture(scope="session")
def masked_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT masked LM with its own byte-level BPE tokenizer (nothing
    downloaded)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("mlm")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>", "<mask>"]
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(SENTENCES * 10, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        bos_token="<s>",
        eos_token="</s>",
        mask_token="<mask>",
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(wrapped),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    BertForMaskedLM(config).eval().save_pretrained(str(folder))
    wrapped.save_pretrained(str(folder))
    return folder

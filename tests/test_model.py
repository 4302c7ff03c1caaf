"""Exact parameter counts, checked against LlamaForCausalLM itself; the one model loader."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM

from babylm.config import ModelConfig, load_config
from babylm.errors import BabylmError
from babylm.model import (
    config_for_preset,
    llama_config,
    load_model,
    load_tokenizer,
    parameter_counts,
    train_flops_per_token,
)


def real_count(cfg) -> int:
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "shape",
    [
        ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=96),
        ModelConfig(
            hidden_size=64,
            num_layers=3,
            num_heads=4,
            num_kv_heads=2,
            intermediate_size=128,
            tie_embeddings=True,
        ),
    ],
)
def test_counts_match_the_real_model(shape: ModelConfig) -> None:
    cfg = llama_config(shape, vocab_size=300)
    counts = parameter_counts(cfg)
    assert counts.total == real_count(cfg)
    assert counts.total == counts.embedding + counts.non_embedding


def test_a_26m_has_exactly_the_reference_parameter_count(cli) -> None:
    cfg = config_for_preset(load_config("a-26m"))
    assert parameter_counts(cfg).total == 26_448_768 == real_count(cfg)
    result = cli("model-info", "a-26m")
    assert result.code == 0
    assert "26,448,768" in result.out


def test_reference_presets() -> None:
    ref_a = config_for_preset(load_config("reference-a"))
    assert ref_a.vocab_size == 16_002  # 16,000 BPE entries + <|endoftext|> + <pad>
    assert parameter_counts(ref_a).total == 26_448_768 + 2 * 2 * 384
    b = config_for_preset(load_config("b-66m"))
    assert parameter_counts(b).total == 66_331_136 == real_count(b)


def test_flops_per_token_exceed_six_n() -> None:
    cfg = config_for_preset(load_config("a-26m"))
    counts = parameter_counts(cfg)
    flops = train_flops_per_token(cfg, 128)
    assert 6 * counts.non_embedding < flops < 6 * counts.total + 12 * 6 * 384 * 128
    assert train_flops_per_token(cfg, 512) - flops == 12 * 6 * 384 * (512 - 128)


# The one loader: every command that reads a model folder goes through babylm.model.


def broken_copy(tiny_model_dir: Path, tmp_path: Path, how: str) -> Path:
    """A copy of the tiny model folder with one thing wrong with it."""
    folder = tmp_path / how
    shutil.copytree(tiny_model_dir, folder)
    if how == "no-config":
        (folder / "config.json").unlink()
    elif how == "no-safetensors":  # torch pickles only (transformers 5 writes no others)
        torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
        (folder / "model.safetensors").unlink()
    elif how == "unreadable-config":
        (folder / "config.json").write_text("{}")
    elif how == "misnamed-weights":  # a *.safetensors, but not the file the loader looks for
        (folder / "model.safetensors").rename(folder / "weights.safetensors")
    elif how == "no-tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            (folder / name).unlink(missing_ok=True)
    return folder


def error_line(call) -> str:
    with pytest.raises(BabylmError) as caught:
        call()
    return str(caught.value)


def cli_line(result) -> str:
    """The one line a command printed for a user error (exit code 2), progress bars aside."""
    assert result.code == 2, (result.out, result.err)
    lines = [x for x in re.split(r"[\r\n]", result.err) if x.strip() and "Loading" not in x]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("babylm: error: ")
    return lines[0].removeprefix("babylm: error: ")


def eval_line(cli, folder: Path, tmp_path: Path) -> str:
    pairs = tmp_path / "pairs"
    pairs.mkdir(exist_ok=True)
    (pairs / "mine.jsonl").write_text('{"sentence_good": "A cat.", "sentence_bad": "A cats."}\n')
    out = tmp_path / f"out-{folder.name}"
    result = cli("eval", str(folder), "--tasks", "", "--pairs-dir", str(pairs), "--out", str(out))
    assert not out.exists()
    return cli_line(result)


def generate_line(cli, folder: Path) -> str:
    return cli_line(cli("generate", str(folder), "The cat", "--max-new-tokens", "2"))


def export_line(folder: Path) -> str:
    from babylm.export import check_loads

    return error_line(lambda: check_loads(folder))


EXPECTED = {
    "no-safetensors": "{f}: no *.safetensors weights (only safetensors are loaded)",
    "unreadable-config": "{f}/config.json: not a model config transformers knows (",
    "misnamed-weights": "{f}: does not load with the Auto classes (",
}


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_a_broken_model_folder_is_the_same_line_from_every_command(
    cli, tiny_model_dir: Path, tmp_path: Path, how: str
) -> None:
    folder = broken_copy(tiny_model_dir, tmp_path, how)
    line = error_line(lambda: load_model(folder))
    assert line.startswith(EXPECTED[how].format(f=folder)) and "\n" not in line
    assert eval_line(cli, folder, tmp_path) == line
    assert generate_line(cli, folder) == line
    assert export_line(folder) == line
    assert error_line(lambda: load_model(folder, kind="causal")) == line


def test_a_folder_without_config_json_is_one_line(
    cli, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = broken_copy(tiny_model_dir, tmp_path, "no-config")
    line = f"{folder}: no config.json (not a Hugging Face model folder)"
    assert error_line(lambda: load_model(folder)) == line
    assert export_line(folder) == line
    # eval and generate take a run folder or a model folder, and say it is neither
    # (babylm.runfolder.model_folder), before any loading starts.
    resolved = eval_line(cli, folder, tmp_path)
    assert generate_line(cli, folder) == resolved
    assert resolved == f"{folder}: neither a run folder nor a Hugging Face model folder"


def test_a_masked_lm_is_refused_where_a_causal_lm_is_needed(
    cli, masked_dir: Path, tmp_path: Path
) -> None:
    from babylm.config import EvalConfig
    from babylm.evaluation import evaluate_suite

    model, kind = load_model(masked_dir)
    assert kind == "masked" and type(model).__name__ == "BertForMaskedLM"
    assert load_model(masked_dir, kind="masked")[1] == "masked"
    line = f"{masked_dir}: is a masked LM; this command needs a causal LM"
    assert error_line(lambda: load_model(masked_dir, kind="causal")) == line
    assert generate_line(cli, masked_dir) == line
    assert export_line(masked_dir) == line
    causal = EvalConfig(tasks=["babylm"], backend="causal")
    suite = error_line(lambda: evaluate_suite(masked_dir, tmp_path / "out", {}, causal))
    assert suite == f"{masked_dir}: is a masked LM; --backend causal needs a causal LM"


def test_a_causal_lm_is_refused_where_a_masked_lm_is_needed(tiny_model_dir: Path) -> None:
    line = error_line(lambda: load_model(tiny_model_dir, kind="masked"))
    assert line == f"{tiny_model_dir}: is a causal LM; this command needs a masked LM"
    with pytest.raises(ValueError, match="kind must be"):
        load_model(tiny_model_dir, kind="seq2seq")


def test_a_folder_without_a_tokenizer_is_one_line(
    cli, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = broken_copy(tiny_model_dir, tmp_path, "no-tokenizer")
    line = error_line(lambda: load_tokenizer(folder))
    assert line.startswith(f"{folder}: cannot load its tokenizer (") and "\n" not in line
    assert generate_line(cli, folder) == line
    assert export_line(folder) == line


def test_the_loader_gives_the_scoring_model(tiny_model_dir: Path) -> None:
    model, kind = load_model(tiny_model_dir)
    assert kind == "causal" and not model.training
    assert next(model.parameters()).dtype == torch.float32  # fp32 on the CPU
    reference = LlamaForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    ids = torch.tensor([[1, 5, 7, 9]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reference(ids).logits)
    assert load_tokenizer(tiny_model_dir)("The cat")["input_ids"]


def auto_from_pretrained_calls(path: Path) -> list[str]:
    """``AutoX.from_pretrained(...)`` calls in a module (string literals do not count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "from_pretrained"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id.startswith("Auto")
        ):
            found.append(f"{path}:{node.lineno}: {node.func.value.id}.from_pretrained")
    return found


def test_only_the_model_module_loads_models_with_the_auto_classes() -> None:
    import babylm

    package = Path(babylm.__file__).parent
    model_module = package / "model.py"
    assert auto_from_pretrained_calls(model_module), "the scan no longer sees model.py's loads"
    elsewhere = [
        call
        for path in sorted(package.rglob("*.py"))
        if path != model_module
        for call in auto_from_pretrained_calls(path)
    ]
    assert elsewhere == [], "load through babylm.model.load_model / load_tokenizer"

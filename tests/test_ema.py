"""The weight average (train.ema_decay): its update, its use in evaluation and checkpoints, and
an exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM, Trainer, TrainingArguments

from babylm.config import load_config
from babylm.ema import RAW_FILE, WeightAverage, trainer_hooks
from babylm.errors import BabylmError
from babylm.model import llama_config

VOCAB, BOS, EOS, PAD = 40, 1, 2, 0


def _model(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(llama_config(load_config("smoke").model, VOCAB, BOS, EOS, PAD)).eval()


def test_the_average_moves_towards_the_weights_and_swaps_in_and_out() -> None:
    model, ema = _model(), WeightAverage(0.9)
    ema.on_train_begin(None, None, None, model=model)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.on_step_end(None, None, None, model=model)
    assert ema.average is not None
    for name, param in model.named_parameters():
        expected = 0.9 * start[name] + 0.1 * param.detach()
        assert torch.allclose(ema.average[name], expected, atol=1e-6)
    trained = {n: p.detach().clone() for n, p in model.named_parameters()}
    with ema.swapped_in(model):
        assert all(torch.equal(p, ema.average[n]) for n, p in model.named_parameters())
    assert all(torch.equal(p, trained[n]) for n, p in model.named_parameters())


def test_evaluation_scores_the_average_and_leaves_the_trained_weights(tmp_path: Path) -> None:
    model, ema = _model(), WeightAverage(0.5)
    ema.reset(_model(seed=1))  # an average far from the weights: the two losses differ
    rows = [{"input_ids": list(range(3, 15)), "labels": list(range(3, 15))}] * 4
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = trainer_hooks(Trainer)(model=model, args=args, eval_dataset=rows, ema=ema)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    averaged = trainer.evaluate()["eval_loss"]
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    plain = Trainer(model=_model(seed=1), args=args, eval_dataset=rows).evaluate()["eval_loss"]
    raw = Trainer(model=model, args=args, eval_dataset=rows).evaluate()["eval_loss"]
    assert averaged == pytest.approx(plain, rel=1e-6) and abs(averaged - raw) > 1e-3


def test_a_bad_decay_is_refused() -> None:
    with pytest.raises(BabylmError, match=r"train\.ema_decay"):
        load_config("smoke", ["train.ema_decay=1.0"])


def _train(run_dir: Path, kill=None) -> subprocess.CompletedProcess[str]:
    """A short EMA run; with ``kill`` (the ``kill_when`` fixture), killed after checkpoint 20
    and then run again, which resumes."""
    sets = ["train.ema_decay=0.9", "train.max_steps=40", "train.eval_steps=20",
            "train.save_total_limit=5", "train.select=last"]  # fmt: skip
    args = [sys.executable, "-m", "babylm", "run", "smoke", "--run-dir", str(run_dir)]
    args += ["--stages", "corpus,tokenizer,train"] + [x for s in sets for x in ("--set", s)]
    if kill is not None:
        kill(args, run_dir / "checkpoints" / "checkpoint-20" / "trainer_state.json")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)


def test_checkpoints_hold_the_average_and_a_killed_run_resumes_exactly(
    tmp_path: Path, kill_when
) -> None:
    straight = _train(tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-2000:]
    resumed = _train(tmp_path / "killed", kill=kill_when)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "train: resuming from" in resumed.stdout
    checkpoint = tmp_path / "straight" / "checkpoints" / "checkpoint-20"
    averaged, raw = (
        load_file(str(checkpoint / "model.safetensors")),
        load_file(str(checkpoint / RAW_FILE)),
    )
    assert averaged.keys() == raw.keys()
    assert any(not torch.equal(averaged[k], raw[k]) for k in raw)
    final = [
        load_file(str(tmp_path / r / "model" / "model.safetensors")) for r in ("straight", "killed")
    ]
    assert final[0].keys() == final[1].keys()
    for key in final[0]:
        assert torch.allclose(final[0][key], final[1][key], atol=1e-6), key
    last = load_file(
        str(tmp_path / "straight" / "checkpoints" / "checkpoint-40" / "model.safetensors")
    )
    assert all(torch.equal(last[k], final[0][k]) for k in last)  # the export is the average
    summary = json.loads((tmp_path / "killed" / "train" / "summary.json").read_text())
    assert summary["optimizer_steps"] == 40 and summary["resumed_from_step"] == 20

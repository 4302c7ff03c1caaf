"""Training end to end on the smoke preset: outputs, skipping, resume after SIGKILL, DDP."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from babylm.checkpoints import checkpoint_problem, latest_good_checkpoint
from babylm.config import load_config
from babylm.pipeline import run_corpus, run_tokenizer
from babylm.runfolder import TrainSummary
from babylm.train import selected_weights

RESULTS = Path(__file__).resolve().parents[1] / "results"

FAST = ["--set", "train.max_steps=12", "--set", "train.eval_steps=6"]  # as SMOKE_FAST


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke run folder with its corpus and tokenizer stages done."""
    run_dir = tmp_path_factory.mktemp("prepared") / "run"
    cfg = load_config("smoke")
    run_corpus(cfg, run_dir)
    run_tokenizer(cfg, run_dir)
    return run_dir


@pytest.fixture
def run_dir(prepared: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(prepared, target)
    return target


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "train" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_train_writes_a_loadable_model_and_its_records(
    cli, smoke_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, out = smoke_run
    for stage in ("corpus", "tokenizer", "train", "eval", "export", "report"):
        assert f"{stage:<10} built" in out
    blimp = json.loads((run_dir / "eval" / "blimp.json").read_text())
    assert blimp["n_pairs"] == 67 * 10 and blimp["protocol"] == "standard"
    assert any(line.startswith("BLiMP overall ") for line in out.splitlines())
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    assert summary["optimizer_steps"] == 12 == summary["total_steps"]
    assert summary["tokens_seen"] > 12 * 8 * 16  # non-padding tokens of 12 batches of 8
    assert summary["best_dev_loss"] <= summary["final_dev_loss"] < 7.0
    assert summary["packing"] == "sentence" and 0 < summary["padding_share"] < 0.5
    assert summary["parameters"] == 259_392 and summary["world_size"] == 1
    steps = [r for r in records(run_dir) if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 13))
    assert all(
        {"learning_rate", "grad_norm", "tokens_seen", "elapsed_s"} <= r.keys() for r in steps
    )
    assert [r["step"] for r in records(run_dir) if "eval_loss" in r] == [6, 12]
    assert list((run_dir / "train" / "tb").glob("events.out.tfevents.*"))

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = AutoModelForCausalLM.from_pretrained(str(run_dir / "model"))
    tok = AutoTokenizer.from_pretrained(str(run_dir / "model"))
    assert (run_dir / "model" / "model.safetensors").is_file()
    gen = json.loads((run_dir / "model" / "generation_config.json").read_text())
    assert (gen["bos_token_id"], gen["eos_token_id"], gen["pad_token_id"]) == (1, 2, 0)
    ids = tok("The cat", return_tensors="pt")["input_ids"]
    out = model.generate(ids, min_new_tokens=5, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 5

    again = cli("train", "smoke", "--run-dir", str(run_dir), *FAST)
    assert "train      up to date, skipped" in again.out


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_resume_after_sigkill_skips_a_corrupt_checkpoint(run_dir: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "babylm",
        "train",
        "smoke",
        "--run-dir",
        str(run_dir),
        "--set",
        "train.max_steps=300",
        "--set",
        "train.eval_steps=20",
        "--set",
        "train.save_total_limit=5",
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = run_dir / "checkpoints"
    try:
        _wait_for(lambda: (ckpt / "checkpoint-40" / "trainer_state.json").exists(), proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (run_dir / "model").exists() and not (run_dir / "train" / "summary.json").exists()
    # Damage the newest checkpoint the way a kill during saving would.
    newest = max(ckpt.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    # And resume with a newer babylm: its config has a field the killed training never knew.
    marker = json.loads((ckpt / "manifest.json").read_text())
    del marker["settings"]["train"]["ema_decay"]
    marker["fingerprint"] = "0" * 64
    (ckpt / "manifest.json").write_text(json.dumps(marker))

    resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"skipping {newest.name}: model.safetensors is truncated" in resumed.stdout
    assert "train: resuming from" in resumed.stdout
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    assert summary["optimizer_steps"] == 300 == summary["total_steps"]
    assert 20 <= summary["resumed_from_step"] < int(newest.name.split("-")[1])
    steps = [r["step"] for r in records(run_dir) if "loss" in r]
    assert steps == list(range(1, 301))  # each step logged once, none lost or doubled


def test_select_last_exports_the_final_weights(cli, run_dir: Path) -> None:
    result = cli("train", "smoke", "--run-dir", str(run_dir), *FAST, "--set", "train.select=last")
    assert result.code == 0, result.err
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    assert summary["select"] == "last" and summary["selected_checkpoint"] == "step 12 (the last)"
    assert summary["selected_dev_loss"] == summary["final_dev_loss"]
    exported = load_file(str(run_dir / "model" / "model.safetensors"))
    last = load_file(str(run_dir / "checkpoints" / "checkpoint-12" / "model.safetensors"))
    assert exported.keys() == last.keys()
    assert all(torch.equal(exported[k], last[k]) for k in last)


def test_selected_weights_and_their_dev_perplexity() -> None:
    state = SimpleNamespace(
        best_model_checkpoint="/r/checkpoints/checkpoint-6", best_metric=4.0, global_step=12
    )
    evals = [{"eval_loss": 4.0, "step": 6}, {"eval_loss": 4.5, "step": 12}]
    assert selected_weights("best", state, evals) == ("checkpoint-6", 4.0)
    last = selected_weights("last", state, evals)
    assert last == ("step 12 (the last)", 4.5)
    figures = json.loads((RESULTS / "plus-s1" / "summary.json").read_text())
    chosen = TrainSummary.from_dict(
        figures | {"select": "last", "selected_checkpoint": last[0], "selected_dev_loss": last[1]}
    )
    assert chosen.exported_dev_ppl == pytest.approx(math.exp(4.5))
    assert chosen.exported == ("step 12 (the last)", "last", 4.5)
    before = {k: v for k, v in figures.items() if not k.startswith("select")}
    before |= {"best_dev_ppl": 60.0}  # a summary from before train.select: model/ is the best
    assert TrainSummary.from_dict(before).exported_dev_ppl == 60.0


def test_checkpoint_checks(tmp_path: Path) -> None:
    def make(step: int) -> Path:
        path = tmp_path / f"checkpoint-{step}"
        path.mkdir()
        save_file({"w": torch.zeros(64, 64)}, str(path / "model.safetensors"))
        torch.save({"state": torch.ones(32)}, path / "optimizer.pt")
        torch.save({"lr": 1.0}, path / "scheduler.pt")
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        return path

    good, bad_opt, bad_weights, partial = make(10), make(20), make(30), make(40)
    assert checkpoint_problem(good) is None
    data = (bad_opt / "optimizer.pt").read_bytes()
    (bad_opt / "optimizer.pt").write_bytes(data[:-40])
    (bad_weights / "model.safetensors").write_bytes(b"\x00" * 10)
    (partial / "trainer_state.json").unlink()
    found, broken = latest_good_checkpoint(tmp_path)
    assert found == good
    reasons = {p.name: why for p, why in broken}
    assert reasons == {
        "checkpoint-40": "trainer_state.json is missing",
        "checkpoint-30": "model.safetensors has no readable header",
        "checkpoint-20": "optimizer.pt is truncated or not a torch.save archive",
    }


def test_two_processes_with_torchrun(prepared: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ddp"
    shutil.copytree(prepared, run_dir)
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "babylm",
            "train",
            "smoke",
            "--run-dir",
            str(run_dir),
            *FAST,
        ],
        env=dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 0/2 finished at optimizer step 12" in result.stdout
    assert "rank 1/2 finished at optimizer step 12" in result.stdout
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    assert summary["world_size"] == 2
    steps = [r["step"] for r in records(run_dir) if "loss" in r]
    assert steps == list(range(1, 13))  # written once, by rank 0
    assert len(list((run_dir / "train" / "tb").glob("events.out.tfevents.*"))) == 1
    assert len(list(run_dir.glob("**/summary.json"))) == 1

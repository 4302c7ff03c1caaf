"""Training throughput: the reference recipe against our default, in one process.

    python benchmarks/train_throughput.py [--steps N] [--preset a-26m] [--reference reference-a]

Both recipes train the same model shape through the project's own Trainer path on the embedded
2 MiB corpus, for the same number of optimizer steps (after one untimed warm-up step). Printed
per recipe: useful (non-padding) tokens per second, padded positions per second, seconds per
optimizer step, peak RSS, and MFU: model FLOPs on useful tokens per second over the machine's
fp32 matmul peak, measured here first. The last line is ``speedup <x.xx>`` (ours over the
reference, in useful tokens per second). A figure, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer

from babylm import packing
from babylm.config import load_config
from babylm.model import train_flops_per_token
from babylm.pipeline import run_corpus, run_tokenizer
from babylm.train import (
    MetricsLog,
    build_model,
    make_trainer,
    prepare_data,
    resolve_precision,
    training_arguments,
)


def matmul_peak_gflops(sizes: tuple[int, ...] = (1024, 2048, 4096), repeats: int = 5) -> float:
    """Best fp32 matmul rate over square sizes (the roofline MFU is measured against)."""
    best = 0.0
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.matmul(a, b)
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) of this process."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def measure(preset: str, steps: int, work: Path) -> dict[str, float]:
    cfg = load_config(preset, [f"train.max_steps={steps + 1}", "train.warmup_steps=0"])
    run_dir = work / preset
    run_corpus(cfg, run_dir)
    run_tokenizer(cfg, run_dir)
    tok = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"))
    model, model_config = build_model(cfg, tok)
    data = prepare_data(cfg, run_dir, tok)
    stats = packing.example_stats(data["train"], cfg.train.packing, cfg.train.seq_len, 16)
    plan = {"total_steps": steps + 1, "warmup_steps": 0, "steps_per_epoch": steps + 1}
    args = training_arguments(cfg, run_dir / "bench", plan, resolve_precision("auto"), None)
    args.disable_tqdm = True
    args.logging_steps = 10**9  # quiet: the timer callback records every step
    timer = MetricsLog(None)
    trainer = make_trainer(model, tok, data, args, [timer])
    reset_peak_rss()
    trainer.train()
    (_, tokens_before), timed = timer.steps[0], timer.steps[1:]  # the first step warms up
    seconds = sum(t for t, _ in timed)
    useful = timed[-1][1] - tokens_before
    positions = useful / (1 - stats["padding_share"]) if stats["padding_share"] < 1 else 0
    return {
        "useful_tokens_per_s": useful / seconds,
        "positions_per_s": positions / seconds,
        "s_per_step": seconds / len(timed),
        "padding_share": stats["padding_share"],
        "flops_per_token": train_flops_per_token(model_config, cfg.train.seq_len),
        "peak_rss_mb": peak_rss_mb(),
        "packing": cfg.train.packing,
        "seq_len": cfg.train.seq_len,
        "checkpointing": cfg.train.gradient_checkpointing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed optimizer steps per recipe")
    parser.add_argument("--preset", default="a-26m", help="our recipe")
    parser.add_argument("--reference", default="reference-a", help="the reference recipe")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    peak = matmul_peak_gflops()
    print(f"fp32 matmul peak (best of 1024..4096 square): {peak:.1f} GFLOP/s")
    results = {}
    with tempfile.TemporaryDirectory(prefix="babylm-bench-") as tmp:
        for label, preset in (("reference", args.reference), ("ours", args.preset)):
            r = measure(preset, args.steps, Path(tmp))
            r["mfu"] = r["useful_tokens_per_s"] * r["flops_per_token"] / (peak * 1e9)
            r["mfu_positions"] = r["positions_per_s"] * r["flops_per_token"] / (peak * 1e9)
            results[label] = r
            print(
                f"{label:<9} {preset:<12} {r['packing']:>9}/{r['seq_len']:<4}"
                f" ckpt={'on ' if r['checkpointing'] else 'off'}"
                f" padding {r['padding_share']:6.1%}  {r['s_per_step']:6.2f} s/step"
                f"  useful {r['useful_tokens_per_s']:8.1f} tok/s"
                f"  positions {r['positions_per_s']:8.1f}/s"
                f"  MFU {r['mfu']:6.1%} (all positions {r['mfu_positions']:6.1%})"
                f"  peak RSS {r['peak_rss_mb']:7.0f} MB",
                flush=True,
            )
    speedup = results["ours"]["useful_tokens_per_s"] / results["reference"]["useful_tokens_per_s"]
    print(f"speedup {speedup:.2f}")


if __name__ == "__main__":
    main()

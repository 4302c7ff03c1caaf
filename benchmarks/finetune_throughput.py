"""Fine-tuning: ``finetune_task`` against the official BabyLM 2025 fine-tuning, same CPU.

    python benchmarks/finetune_throughput.py [--model runs/a-26m/model] [--task rte]
        [--train FILE] [--valid FILE] [--examples 256] [--valid-examples 64] [--epochs 2]
        [--pooling final] [--batch-size 32] [--lr 3e-5]
        [--data ../shared/data/babylm_eval_2025/full_eval/glue_filtered]
        [--oracle ../shared/oracles/babylm-evaluation-pipeline-2025] [--synthetic]

The first ``--examples`` lines of the task's train file and the first ``--valid-examples`` of
its valid file (default: ``--data``/<task>.{train,valid}.jsonl; ``--synthetic``: the made-up
files of ``tests/test_finetune_oracle.py``, where no official copy is at hand) are fine-tuned
on by both sides with the same settings (the task's official batch size, metric for
validation and number of labels unless given): ours as ``finetune_task`` and the official
``evaluation_pipeline.finetune.run`` (``--take_final --padding_side left`` for final pooling),
each in its own process, so both wall clocks include start-up and model loading; CUDA is
hidden from both. Prints each side's seconds and figures, how many validation predictions
agree (exit status 1 if any differ), and last ``speedup_vs_official <x>`` (official seconds
over ours). A figure, not a test: run it with nothing else on the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.test_finetune_oracle: the official command and files

from babylm.finetune.tasks import TASKS  # noqa: E402
from tests.test_finetune_oracle import (  # noqa: E402
    official_command,
    official_env,
    read_official,
    write_task_files,
)

OURS = """
import json, sys
from pathlib import Path
from babylm.config import FinetuneConfig
from babylm.finetune import finetune_task
a = json.loads(sys.argv[1])
settings = FinetuneConfig(**a["settings"])
finetune_task(Path(a["model"]), a["task"], Path(a["train"]), Path(a["valid"]), Path(a["out"]),
              settings, progress=False)
"""


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return seconds


def _slice(src: Path, dst: Path, n: int) -> int:
    lines = [x for x in src.read_text(encoding="utf-8").splitlines(keepends=True) if x.strip()]
    if not lines:
        raise SystemExit(f"{src}: no examples")
    dst.write_text("".join(lines[:n]), encoding="utf-8")
    return len(lines[:n])


def _figures(metrics: dict[str, float], names: tuple[str, ...]) -> str:
    return " | ".join(f"{metrics[m]:.4f}" if m in metrics else "-" for m in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "runs/a-26m/model")
    parser.add_argument("--task", default="rte", choices=sorted(TASKS))
    parser.add_argument("--train", type=Path, help="default: --data/<task>.train.jsonl")
    parser.add_argument("--valid", type=Path, help="default: --data/<task>.valid.jsonl")
    parser.add_argument("--examples", type=int, default=256, help="train examples (first N)")
    parser.add_argument("--valid-examples", type=int, default=64, help="valid examples")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--pooling", default="final", choices=["first", "final"])
    parser.add_argument("--batch-size", type=int, help="default: the task's official one")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--data", type=Path,
        default=ROOT.parent / "shared/data/babylm_eval_2025/full_eval/glue_filtered",
    )  # fmt: skip
    parser.add_argument(
        "--oracle", type=Path,
        default=ROOT.parent / "shared/oracles/babylm-evaluation-pipeline-2025",
    )  # fmt: skip
    parser.add_argument("--synthetic", action="store_true", help="made-up files in the format")
    args = parser.parse_args()
    spec = TASKS[args.task]
    model = args.model.resolve()
    if not (model / "config.json").is_file():
        raise SystemExit(f"--model {model}: not a model folder (no config.json)")
    if not (args.oracle / "evaluation_pipeline" / "finetune" / "run.py").is_file():
        raise SystemExit(f"--oracle {args.oracle}: not the official pipeline")
    batch_size = args.batch_size or spec.batch_size
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.synthetic:
            train_src, valid_src = write_task_files(
                work / "synthetic", args.task, args.examples, args.valid_examples
            )
        else:
            train_src = args.train or args.data / f"{args.task}.train.jsonl"
            valid_src = args.valid or args.data / f"{args.task}.valid.jsonl"
            for path in (train_src, valid_src):
                if not path.is_file():
                    raise SystemExit(f"{path}: no such file (give --train/--valid or --synthetic)")
        train, valid = work / f"{args.task}.train.jsonl", work / f"{args.task}.valid.jsonl"
        n_train = _slice(train_src, train, args.examples)
        n_valid = _slice(valid_src, valid, args.valid_examples)

        settings = {"pooling": args.pooling, "seed": args.seed, "lr": args.lr,
                    "batch_size": batch_size, "epochs": args.epochs,
                    "valid_batch_size": 64, "max_length": 512}  # fmt: skip
        call = {"settings": settings, "model": str(model), "task": args.task,
                "train": str(train), "valid": str(valid), "out": str(work / "ours")}  # fmt: skip
        print(f"{args.task}: {n_train} train / {n_valid} valid examples, {args.epochs} epochs, "
              f"batch {batch_size}, lr {args.lr}, {args.pooling} pooling", flush=True)  # fmt: skip
        ours_s = _timed([sys.executable, "-c", OURS, json.dumps(call)], env, ROOT)
        print(f"ours: {ours_s:.1f} s", flush=True)

        cmd = official_command(
            model, args.task, train, valid, work / "official", args.pooling,
            epochs=args.epochs, batch_size=batch_size, lr=args.lr, seed=args.seed,
        )  # fmt: skip
        (work / "stub").mkdir()
        official_s = _timed(cmd, official_env(args.oracle.resolve(), work / "stub"), args.oracle)
        print(f"official: {official_s:.1f} s", flush=True)

        ours = json.loads((work / "ours" / "results.json").read_text())
        mine = json.loads((work / "ours" / "predictions.json").read_text())[args.task]
        theirs_preds, theirs = read_official(work / "official", args.task)
        a = [r["pred"] for r in mine["predictions"]]
        b = [r["pred"] for r in theirs_preds[args.task]["predictions"]]
        same = sum(x == y for x, y in zip(a, b, strict=False))

    names = spec.metrics
    print(f"\nmodel {model}  ({os.cpu_count()} CPUs, torch threads default, CUDA hidden)")
    print(f"| side | seconds | {' | '.join(names)} |")
    print(f"|---|---:|{'---:|' * len(names)}")
    print(f"| ours | {ours_s:.1f} | {_figures(ours, names)} |")
    print(f"| official | {official_s:.1f} | {_figures(theirs, names)} |")
    agree = same == len(b) == len(a)
    print(f"predictions: {same}/{len(b)} agree" + ("" if agree else "  ** DIFFERENT **"))
    print(f"speedup_vs_official {official_s / ours_s:.2f}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

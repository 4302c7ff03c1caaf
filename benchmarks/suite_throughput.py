"""The BabyLM 2025 zero-shot suite: ``babylm eval`` against the official pipeline, same machine.

    python benchmarks/suite_throughput.py --model runs/plus-22m/model
        [--data ../shared/data/babylm_eval_2025/full_eval]
        [--oracle ../shared/oracles/babylm-evaluation-pipeline-2025] [--tasks ewok,reading]
        [--log suite.log]

Each task runs as its own process on both sides (start-up and model loading included), as the
official ``eval_zero_shot.sh`` runs them: ``babylm eval MODEL --tasks <task>`` and the
official ``sentence_zero_shot.run`` / ``reading.run`` with ``--backend causal``. Prints each
task's seconds on both sides, how many items choose the same candidate (reading: the largest
surprisal difference), both headline figures, and last ``speedup_vs_official <x>`` (total
official time over ours). A figure, not a test: run it with nothing else on the cores.
``--log FILE`` appends every process's output there as it runs (the official tqdm bars show
how far a long task has got; entity tracking takes about two hours on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from babylm.evaluation.suite_tasks import FOLDERS, OFFICIAL_TASK

ROOT = Path(__file__).resolve().parents[1]
ORACLE_TASKS = {task: (OFFICIAL_TASK[task], FOLDERS[task]) for task in OFFICIAL_TASK}


def _timed(cmd: list[str], env: dict[str, str], cwd: Path, log: Path | None) -> float:
    """Seconds ``cmd`` takes; its output goes to ``log`` as it runs, or is kept for an error."""
    start = time.perf_counter()
    if log is None:
        done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        tail = done.stderr[-3000:]
    else:
        with log.open("a") as sink:
            sink.write(f"\n$ {' '.join(cmd)}\n")
            sink.flush()
            done = subprocess.run(cmd, env=env, cwd=cwd, stdout=sink, stderr=sink, check=False)
        tail = f"(output in {log})"
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{tail}")
    return time.perf_counter() - start


def _official(
    task: str, model: Path, data: Path, oracle: Path, out: Path, log: Path | None
) -> float:
    env = {**os.environ, "PYTHONPATH": str(oracle)}
    if task == "reading":
        cmd = [sys.executable, "-m", "evaluation_pipeline.reading.run", "--model_path_or_name",
               str(model), "--backend", "causal", "--data_path",
               str(data / "reading" / "reading_data.csv"), "--output_dir", str(out)]  # fmt: skip
    else:
        name, folder = ORACLE_TASKS[task]
        cmd = [sys.executable, "-m", "evaluation_pipeline.sentence_zero_shot.run",
               "--model_path_or_name", str(model), "--backend", "causal", "--task", name,
               "--data_path", str(data / folder), "--save_predictions",
               "--output_dir", str(out)]  # fmt: skip
    return _timed(cmd, env, out, log)


def _official_predictions(task: str, out: Path) -> dict:
    if task == "reading":
        return json.loads(next(out.rglob("reading/predictions.json")).read_text())
    name, folder = ORACLE_TASKS[task]
    return json.loads(next(out.rglob(f"{name}/{folder}/predictions.json")).read_text())


def _agreement(task: str, ours: dict, official: dict) -> str:
    if task == "reading":
        diffs = [
            abs(a[k] - b[k])
            for a, b in zip(ours["reading"]["predictions"], official["reading"]["predictions"],
                            strict=True)
            for k in ("pred", "prev_pred")
            if not (math.isnan(a[k]) and math.isnan(b[k]))
        ]  # fmt: skip
        return f"max |surprisal diff| {max(diffs):.1e}"
    same = total = 0
    for uid, rows in official.items():
        mine = ours.get(uid, {"predictions": []})["predictions"]
        total += len(rows["predictions"])
        same += sum(a["pred"] == b["pred"] for a, b in zip(mine, rows["predictions"], strict=False))
    return f"{same:,}/{total:,} same choice"


def _official_headline(task: str, out: Path) -> str:
    reports = list(out.rglob("report.txt" if task == "reading" else "best_temperature_report.txt"))
    if not reports:
        return "?"
    lines = reports[0].read_text().splitlines()
    if task == "reading":
        return " / ".join(line.split(":")[1].strip() for line in lines if "SCORE" in line)
    return lines[lines.index(next(x for x in lines if x.startswith("### AVERAGE"))) + 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared/data/babylm_eval_2025/full_eval"
    )
    parser.add_argument(
        "--oracle",
        type=Path,
        default=ROOT.parent / "shared/oracles/babylm-evaluation-pipeline-2025",
    )
    parser.add_argument("--tasks", default="")  # fmt: skip
    parser.add_argument("--log", type=Path, help="append every process's output here")
    args = parser.parse_args()
    model = args.model.resolve()
    tasks = [t for t in ORACLE_TASKS if (args.data / ORACLE_TASKS[t][1]).exists()]
    if args.tasks:
        tasks = [t for t in tasks if t in args.tasks.split(",")]
    rows, ours_total, official_total = [], 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            out = Path(tmp) / task
            cmd = [sys.executable, "-m", "babylm", "eval", str(model), "--tasks", task,
                   "--eval-data", str(args.data.resolve()), "--out", str(out / "ours")]  # fmt: skip
            ours_s = _timed(cmd, dict(os.environ), ROOT, args.log)
            (out / "official").mkdir(parents=True)
            official_s = _official(
                task, model, args.data.resolve(), args.oracle, out / "official", args.log
            )
            ours = json.loads((out / "ours" / "babylm" / task / "predictions.json").read_text())
            result = json.loads((out / "ours" / "babylm" / task / "results.json").read_text())
            agree = _agreement(task, ours, _official_predictions(task, out / "official"))
            mine = " / ".join(f"{v:.2f}" for v in result["headlines"].values())
            if task.startswith("wug"):
                mine = f"{result['rho']:.2f}"  # the official report prints rho itself
            theirs = _official_headline(task, out / "official")
            rows.append((task, ours_s, official_s, agree, mine, theirs))
            ours_total += ours_s
            official_total += official_s
            print(f"{task}: ours {ours_s:.1f} s, official {official_s:.1f} s, {agree}", flush=True)
    print(f"\nmodel {model}  ({os.cpu_count()} CPUs, torch threads default)")
    print("| task | ours (s) | official (s) | speedup | agreement | ours | official |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for task, a, b, agree, mine, theirs in rows:
        print(f"| {task} | {a:.1f} | {b:.1f} | {b / a:.1f}x | {agree} | {mine} | {theirs} |")
    print(f"| **all** | {ours_total:.1f} | {official_total:.1f} |"
          f" {official_total / ours_total:.1f}x | | | |")  # fmt: skip
    print(f"speedup_vs_official {official_total / ours_total:.2f}")


if __name__ == "__main__":
    main()

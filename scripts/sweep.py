"""Run a sweep of recipe variants in one go and print their results side by side.

    python -m scripts.sweep sweeps/issue-6.yaml [--only a,b] [--runs-root runs]
                            [--results results] [--dry-run] [--jobs N] [--start-until MIN]
                            [--learning-curve]

The sweep file names a base preset, overrides shared by every run and one list of overrides
per run (see ``sweeps/issue-6.yaml``). Each run is ``babylm run BASE --run-dir
RUNS_ROOT/NAME --set name=NAME ...`` in its own process, logged to ``RUNS_ROOT/NAME.log``: a
failing run is recorded and the sweep goes on, and a rerun skips the stages a run already
finished (the pipeline resumes), so a killed sweep restarts where it stopped. Finished runs are
copied to ``RESULTS/NAME/`` (no weights, ``collect_results.py``); the last lines are a table
of every run, best BLiMP first, also written to ``RUNS_ROOT/SWEEP.json``. Meant for a lent
GPU, where a 26M run on 2 MiB takes minutes, and where several runs share the card
(``--jobs``, each given an equal share of the CPU threads); it runs the same on CPU, slowly.
``--start-until`` stops starting runs after that many minutes, so a sweep fits a lease.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from babylm.runfolder import RunFiles, read_json
from scripts import collect_results

KEYS = {"base", "stages", "set", "runs", "description"}


def load_sweep(path: Path) -> dict[str, Any]:
    """The sweep file, checked: a one-line error naming the file for anything malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"error: {path}: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), dict) or not data["runs"]:
        raise SystemExit(f"error: {path}: expected a mapping with a non-empty 'runs' mapping")
    unknown = set(data) - KEYS
    if unknown:
        raise SystemExit(f"error: {path}: unknown keys {sorted(unknown)}; expected {sorted(KEYS)}")
    for name, sets in data["runs"].items():
        if not isinstance(sets, list | type(None)) or not all(
            isinstance(s, str) and "=" in s for s in sets or []
        ):
            raise SystemExit(f"error: {path}: runs.{name}: expected a list of section.key=value")
    return data


def command(sweep: dict[str, Any], name: str, runs_root: Path) -> list[str]:
    """The ``babylm run`` command line of one run of the sweep."""
    cmd = [sys.executable, "-m", "babylm", "run", str(sweep.get("base", "a-26m"))]
    cmd += ["--run-dir", str(runs_root / name)]
    if sweep.get("stages"):
        cmd += ["--stages", str(sweep["stages"])]
    for item in [f"name={name}", *(sweep.get("set") or []), *(sweep["runs"][name] or [])]:
        cmd += ["--set", item]
    return cmd


def outcome(run_dir: Path) -> dict[str, Any]:
    """A finished run's headline figures, read from its files (empty where missing)."""
    out: dict[str, Any] = {}
    files = RunFiles.of(run_dir)
    s = files.read_summary()
    if s is not None:
        out |= {
            "parameters": s.parameters,
            "train_minutes": round(s.wall_time_s / 60, 1),
            "dev_loss": round(s.best_dev_loss, 4) if s.best_dev_loss is not None else None,
        }
    if files.blimp.is_file():
        b = read_json(files.blimp)
        out |= {"blimp": round(100 * b["overall"], 2), "pairs": b["n_pairs"]}
    return out


def learning_curve_command(run_dir: Path, out: Path) -> list[str]:
    """BLiMP (6,700-pair subset) at each epoch end: ``scripts.learning_curve --epoch-ends``."""
    module = [sys.executable, "-m", "scripts.learning_curve"]
    return [*module, str(run_dir), "--epoch-ends", "--out", str(out)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--only", help="comma-separated run names (default: all)")
    parser.add_argument("--runs-root", type=Path, default=Path("runs"))
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (a GPU takes several)")
    parser.add_argument(
        "--start-until",
        type=float,
        help="minutes from now after which no further run is started (a device lease)",
    )
    parser.add_argument(
        "--learning-curve", action="store_true", help="also score every epoch-end checkpoint"
    )
    args = parser.parse_args(argv)

    sweep = load_sweep(args.sweep)
    names = list(sweep["runs"])
    if args.only:
        wanted = args.only.split(",")
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise SystemExit(f"error: {args.sweep}: no runs named {missing}")
        names = [n for n in names if n in wanted]
    if args.jobs < 1:
        raise SystemExit("error: --jobs: must be at least 1")
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name}: {' '.join(command(sweep, name, args.runs_root)[2:])}")
    if args.dry_run:
        return 0
    args.runs_root.mkdir(parents=True, exist_ok=True)
    start_by = (
        float("inf") if args.start_until is None else time.monotonic() + 60 * args.start_until
    )
    threads = max((os.cpu_count() or 1) // args.jobs, 1)
    env = os.environ | {"TQDM_MININTERVAL": "30"}  # a readable log, not 1,000s of bars
    root = str(Path(__file__).resolve().parents[1])  # so that `-m scripts.…` works anywhere
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    if args.jobs > 1:
        env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    queue, rows = list(names), []
    running: dict[str, tuple[subprocess.Popen, Any, float]] = {}
    """Runs and learning curves in flight (a curve's key ends in ' curve'), each a job."""

    def launch(key: str, cmd: list[str], log: Path) -> None:
        handle = log.open("a", encoding="utf-8")
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
        running[key] = (proc, handle, time.perf_counter())
        print(f"started {key} (log {log})", flush=True)

    while queue or running:
        while queue and len(running) < args.jobs and time.monotonic() < start_by:
            name = queue.pop(0)
            launch(name, command(sweep, name, args.runs_root), args.runs_root / f"{name}.log")
        if queue and time.monotonic() >= start_by:
            for name in queue:
                rows.append({"run": name, "status": "not started (--start-until)"})
                print(f"not started: {name}", flush=True)
            queue = []
        for key, (proc, handle, began) in list(running.items()):
            if proc.poll() is None:
                continue
            handle.close()
            del running[key]
            name = key.removesuffix(" curve")
            run_dir, log = args.runs_root / name, args.runs_root / f"{name}.log"
            rc = proc.returncode
            if key != name:
                print(f"    learning curve of {name}: exit {rc}", flush=True)
                continue
            row = {"run": name, "status": "ok" if rc == 0 else f"failed (exit {rc}, see {log})"}
            row["sweep_minutes"] = round((time.perf_counter() - began) / 60, 1)
            row |= outcome(run_dir)
            if rc == 0:
                collect_results.main(run_dir, args.results / name)
                if args.learning_curve:
                    out = args.results / name
                    launch(f"{name} curve", learning_curve_command(run_dir, out), log)
            rows.append(row)
            print(f"    {json.dumps(row)}", flush=True)
        time.sleep(1)
    rows.sort(key=lambda r: -r.get("blimp", -1.0))
    record = args.runs_root / f"{args.sweep.stem}.json"
    record.write_text(json.dumps({"sweep": str(args.sweep), "runs": rows}, indent=2) + "\n")
    print(f"\n{'run':<28} {'BLiMP':>6} {'pairs':>6} {'dev loss':>8} {'minutes':>7}  status")
    nan = float("nan")
    for r in rows:
        print(
            f"{r['run']:<28} {r.get('blimp', nan):>6.2f} {r.get('pairs', 0):>6}"
            f" {r.get('dev_loss') or nan:>8.3f} {r.get('sweep_minutes', nan):>7.1f}"
            f"  {r['status']}"
        )
    print(f"written: {record}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

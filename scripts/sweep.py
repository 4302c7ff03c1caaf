"""Run a sweep of recipe variants in one go and print their results side by side.

    python scripts/sweep.py sweeps/issue-6.yaml [--only a,b] [--runs-root runs]
                            [--results results] [--dry-run]

The sweep file names a base preset, overrides shared by every run and one list of overrides
per run (see ``sweeps/issue-6.yaml``). Each run is ``babylm run BASE --run-dir
RUNS_ROOT/NAME --set name=NAME ...`` in its own process, logged to ``RUNS_ROOT/NAME.log``: a
failing run is recorded and the sweep goes on, and a rerun skips the stages a run already
finished (the pipeline resumes), so a killed sweep restarts where it stopped. Finished runs are
copied to ``RESULTS/NAME/`` (no weights, ``collect_results.py``); the last lines are a table
of every run, best BLiMP first, also written to ``RUNS_ROOT/SWEEP.json``. Meant for a lent
GPU, where a 26M run on 2 MiB takes minutes; it runs the same on CPU, slowly.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import collect_results

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
    summary, blimp = run_dir / "train" / "summary.json", run_dir / "eval" / "blimp.json"
    if summary.is_file():
        s = json.loads(summary.read_text())
        out |= {
            "parameters": s["parameters"],
            "train_minutes": round(s["wall_time_s"] / 60, 1),
            "best_dev_loss": round(s["best_dev_loss"], 4),
        }
    if blimp.is_file():
        b = json.loads(blimp.read_text())
        out |= {"blimp": round(100 * b["overall"], 2), "pairs": b["n_pairs"]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--only", help="comma-separated run names (default: all)")
    parser.add_argument("--runs-root", type=Path, default=Path("runs"))
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)

    sweep = load_sweep(args.sweep)
    names = list(sweep["runs"])
    if args.only:
        wanted = args.only.split(",")
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise SystemExit(f"error: {args.sweep}: no runs named {missing}")
        names = [n for n in names if n in wanted]
    args.runs_root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(names, 1):
        cmd = command(sweep, name, args.runs_root)
        print(f"[{i}/{len(names)}] {name}: {' '.join(cmd[2:])}", flush=True)
        if args.dry_run:
            continue
        start = time.perf_counter()
        log = args.runs_root / f"{name}.log"
        with log.open("a", encoding="utf-8") as handle:
            env = os.environ | {"TQDM_MININTERVAL": "30"}  # a readable log, not 1,000s of bars
            rc = subprocess.call(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
        run_dir = args.runs_root / name
        row = {"run": name, "status": "ok" if rc == 0 else f"failed (exit {rc}, see {log})"}
        row |= {"sweep_minutes": round((time.perf_counter() - start) / 60, 1), **outcome(run_dir)}
        if rc == 0:
            collect_results.main(run_dir, args.results / name)
        rows.append(row)
        print(f"    {json.dumps(row)}", flush=True)
    if args.dry_run:
        return 0
    rows.sort(key=lambda r: -r.get("blimp", -1.0))
    record = args.runs_root / f"{args.sweep.stem}.json"
    record.write_text(json.dumps({"sweep": str(args.sweep), "runs": rows}, indent=2) + "\n")
    print(f"\n{'run':<28} {'BLiMP':>6} {'pairs':>6} {'dev loss':>8} {'minutes':>7}  status")
    nan = float("nan")
    for r in rows:
        print(
            f"{r['run']:<28} {r.get('blimp', nan):>6.2f} {r.get('pairs', 0):>6}"
            f" {r.get('best_dev_loss', nan):>8.3f} {r['sweep_minutes']:>7.1f}  {r['status']}"
        )
    print(f"written: {record}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

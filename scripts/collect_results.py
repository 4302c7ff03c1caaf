"""Copy a run's small result files (never weights) into results/<name>/ for committing.

python -m scripts.collect_results runs/a-26m [results/a-26m]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from babylm.runfolder import suite_dir

FILES = (
    "config.yaml",
    "corpus/manifest.json",
    "tokenizer/manifest.json",
    "train/summary.json",
    "train/metrics.jsonl",
    "eval/blimp.json",
    "eval/supplement.json",
    "eval/pairs.jsonl.gz",
    "eval-checkpoints/fast.json",
)
RENAMED = {"model/README.md": "MODEL_CARD.md"}
REPORT = ("report.md", "*.png")  # the HTML repeats the PNGs inline: left in the run folder


def main(run_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        source = run_dir / name
        if source.is_file():
            target = out_dir / name.replace("/manifest.json", "_manifest.json").split("/")[-1]
            shutil.copyfile(source, target)
            print(f"{source} -> {target}")
    for name, new in RENAMED.items():
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out_dir / new)
            print(f"{run_dir / name} -> {out_dir / new}")
    # The BabyLM suite's figures (predictions stay behind).
    suite = suite_dir(run_dir)
    if (suite / "suite.json").is_file():
        (out_dir / "suite").mkdir(exist_ok=True)
        sources = [suite / "suite.json", *sorted(suite.glob("*/results.json"))]
        for source in sources:
            name = "suite.json" if source.parent == suite else f"{source.parent.name}.json"
            shutil.copyfile(source, out_dir / "suite" / name)
            print(f"{source} -> {out_dir / 'suite' / name}")
    if (run_dir / "report").is_dir():
        (out_dir / "report").mkdir(exist_ok=True)
        for pattern in REPORT:
            for source in sorted((run_dir / "report").glob(pattern)):
                shutil.copyfile(source, out_dir / "report" / source.name)
                print(f"{source} -> {out_dir / 'report' / source.name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (RUN/config.yaml)")
    parser.add_argument("out", type=Path, nargs="?", help="default: results/<run name>/")
    args = parser.parse_args()
    if not (args.run / "config.yaml").is_file():
        # Checked before anything is created, so a typo leaves no empty results/<typo>/ behind.
        print(f"error: {args.run}: not a run folder (no config.yaml)", file=sys.stderr)
        sys.exit(2)
    main(args.run, args.out or Path("results") / args.run.name)

"""Copy a run's small result files (never weights) into results/<name>/ for committing.

python -m scripts.collect_results runs/a-26m [results/a-26m]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from babylm.runfolder import COLLECTED, RunFolder


def copies(run: RunFolder) -> dict[str, Path]:
    """Each file kept, by its flat name in the copy (``runfolder.COLLECTED``)."""
    return {
        COLLECTED["config"]: run.config,
        COLLECTED["corpus_manifest"]: run.manifest("corpus"),
        COLLECTED["tokenizer_manifest"]: run.manifest("tokenizer"),
        COLLECTED["summary"]: run.summary,
        COLLECTED["metrics"]: run.metrics,
        COLLECTED["blimp"]: run.eval.result("blimp"),
        COLLECTED["supplement"]: run.eval.result("supplement"),
        COLLECTED["pairs"]: run.eval.pairs,
        run.checkpoint_evals.fast.name: run.checkpoint_evals.fast,
        COLLECTED["card"]: run.card,
    }


REPORT = ("report.md", "*.png")  # the HTML repeats the PNGs inline: left in the run folder


def main(run_dir: Path, out_dir: Path) -> None:
    run = RunFolder(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, source in copies(run).items():
        if source.is_file():
            shutil.copyfile(source, out_dir / name)
            print(f"{source} -> {out_dir / name}")
    # The BabyLM suite's figures (predictions stay behind).
    suite = run.suite_eval
    if suite.suite_summary.is_file():
        kept = out_dir / COLLECTED["suite"]
        kept.mkdir(exist_ok=True)
        sources = {suite.suite_summary.name: suite.suite_summary}
        sources |= {f"{task}.json": path for task, path in suite.suite_results().items()}
        for name, source in sources.items():
            shutil.copyfile(source, kept / name)
            print(f"{source} -> {kept / name}")
    if run.report.is_dir():
        kept = out_dir / COLLECTED["report"]
        kept.mkdir(exist_ok=True)
        for pattern in REPORT:
            for source in sorted(run.report.glob(pattern)):
                shutil.copyfile(source, kept / source.name)
                print(f"{source} -> {kept / source.name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (RUN/config.yaml)")
    parser.add_argument("out", type=Path, nargs="?", help="default: results/<run name>/")
    args = parser.parse_args()
    if not RunFolder(args.run).is_run():
        # Checked before anything is created, so a typo leaves no empty results/<typo>/ behind.
        print(f"error: {args.run}: not a run folder (no config.yaml)", file=sys.stderr)
        sys.exit(2)
    main(args.run, args.out or Path("results") / args.run.name)

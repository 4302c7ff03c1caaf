"""Issue 18's rule for a recipe gain: the preset's seed spread, and which runs clear the bar.

    python -m scripts.gain_bar --seeds results/plus-normalize,results/plus-s1,results/plus-s2 \
        [--control results/plus-8ep] [results/hybrid-4 results/plus-7ep ...]

``--seeds`` are trainings of the preset that differ only in ``train.seed``; the first is the
preset's own run, the one the McNemar test compares against. Printed, as markdown:
- each seed run's accuracy on all BLiMP pairs, the spread (largest minus smallest), the
  spread per linguistic term, and the exact McNemar p between every two seeds (how often the
  pair-level test calls the same recipe "different": it does not cover training noise);
- each other run: its accuracy, its gain over the mean of the seed runs, the exact McNemar p
  against the preset's run, and whether it passes the bar: a gain of more than twice the seed
  spread AND p < 0.01, both on all 67,000 pairs. A run scored on fewer pairs is not judged.
- with ``--control``, each run also against a control of its own schedule (a lever screened
  at 8 epochs against the preset at 8 epochs): the difference and the exact McNemar p. This
  says what the lever itself does; the bar is still judged against the seeds.
Every figure is read from the folders' ``blimp.json`` and ``pairs.jsonl.gz``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from babylm.report import agreement, load_entry
from babylm.runfolder import RunFiles, read_json
from babylm.tables import markdown_table
from scripts.results_table import exact_blimp

ALL_PAIRS = 67_000
P_BAR = 0.01


def label(folder: Path) -> str:
    """``results/plus-7ep/full`` -> ``plus-7ep``: the run, not its all-pairs folder's name."""
    return folder.parent.name if folder.name == "full" else folder.name


def scores(folder: Path) -> dict[str, Any]:
    """A run's overall accuracy (every pair once), per-term accuracies and pair count."""
    files = RunFiles.of(folder)
    blimp = read_json(files.blimp)
    if not files.pairs.is_file():
        raise SystemExit(f"error: {folder}: no pairs.jsonl.gz (needed for McNemar)")
    return {
        "overall": exact_blimp(folder, blimp)["overall"],
        "terms": {k: v["acc"] for k, v in blimp["terms"].items()},
        "n_pairs": blimp["n_pairs"],
    }


def seed_spread(seeds: list[Path]) -> dict[str, Any]:
    """The seed runs' figures, their mean and spread overall and per term."""
    got = {label(p): scores(p) for p in seeds}
    overall = [s["overall"] for s in got.values()]
    terms = sorted({t for s in got.values() for t in s["terms"]})
    per_term = {
        t: max(s["terms"][t] for s in got.values()) - min(s["terms"][t] for s in got.values())
        for t in terms
    }
    between = []
    for i, a in enumerate(seeds):
        for b in seeds[i + 1 :]:
            pairs = agreement(load_entry(a), load_entry(b))
            between.append(
                (label(a), label(b), pairs["only_a"], pairs["only_b"], pairs["mcnemar_p"])
            )
    return {
        "runs": got,
        "between": between,
        "mean": sum(overall) / len(overall),
        "spread": max(overall) - min(overall),
        "per_term": per_term,
    }


def judge(candidate: Path, preset: Path, mean: float, spread: float) -> dict[str, Any]:
    """A run against the preset: gain over the seed mean, exact McNemar p, and the verdict."""
    mine = scores(candidate)
    pairs = agreement(load_entry(candidate), load_entry(preset))
    only_mine, only_preset, p = pairs["only_a"], pairs["only_b"], pairs["mcnemar_p"]
    gain = mine["overall"] - mean
    if mine["n_pairs"] < ALL_PAIRS or pairs["pairs"] < ALL_PAIRS:
        verdict = f"not judged ({mine['n_pairs']:,} pairs)"
    elif gain > 2 * spread and p < P_BAR:
        verdict = "**passes**"
    else:
        verdict = "no"
    return {
        "overall": mine["overall"],
        "gain": gain,
        "only_mine": only_mine,
        "only_preset": only_preset,
        "p": p,
        "verdict": verdict,
    }


def against_control(candidate: Path, control: Path) -> dict[str, Any]:
    """A run against a control of its own length: the difference and the exact McNemar p."""
    pairs = agreement(load_entry(candidate), load_entry(control))
    diff = scores(candidate)["overall"] - scores(control)["overall"]
    return {"diff": diff, "only_mine": pairs["only_a"], "only_control": pairs["only_b"],
            "p": pairs["mcnemar_p"]}  # fmt: skip


def report(seeds: list[Path], candidates: list[Path], control: Path | None = None) -> str:
    """The markdown the script prints."""
    spread = seed_spread(seeds)
    lines = ["Seed runs of the preset (all BLiMP pairs, standard protocol):", ""]
    rows = [
        [name, f"{s['overall'] * 100:.2f}", f"{s['n_pairs']:,}"]
        for name, s in spread["runs"].items()
    ]
    lines += [markdown_table(["run", "BLiMP", "pairs"], rows), ""]
    lines.append(
        f"Mean {spread['mean'] * 100:.2f}, spread {spread['spread'] * 100:.2f} points; the bar"
        f" for a gain: more than {2 * spread['spread'] * 100:.2f} points over the mean and exact"
        f" McNemar p < {P_BAR} against {label(seeds[0])}."
    )
    widest = sorted(spread["per_term"].items(), key=lambda kv: -kv[1])
    lines += ["", "Spread per term (points): " + ", ".join(f"{t} {v * 100:.1f}" for t, v in widest)]
    rows = [[f"{a} / {b}", f"{na:,} / {nb:,}", f"{p:.2g}"] for a, b, na, nb, p in spread["between"]]
    lines += ["", "Seed against seed (the same recipe):", ""]
    lines.append(
        markdown_table(["seeds", "pairs only the first / only the second", "McNemar p"], rows)
    )
    if candidates:
        rows = []
        for c in candidates:
            j = judge(c, seeds[0], spread["mean"], spread["spread"])
            rows.append([
                label(c), f"{j['overall'] * 100:.2f}", f"{j['gain'] * 100:+.2f}",
                f"{j['only_mine']:,} / {j['only_preset']:,}", f"{j['p']:.2g}", j["verdict"],
            ])  # fmt: skip
            if control is not None:
                k = against_control(c, control)
                rows[-1] += [f"{k['diff'] * 100:+.2f}", f"{k['p']:.2g}"]
        header = ["run", "BLiMP", "gain vs seed mean", f"pairs only it / only {label(seeds[0])}",
                  "McNemar p", "passes the bar"]  # fmt: skip
        if control is not None:
            header += [f"vs {label(control)}", f"McNemar p vs {label(control)}"]
        lines += ["", markdown_table(header, rows)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", required=True, help="comma-separated result folders")
    parser.add_argument(
        "--control", type=Path, help="a control run of the candidates' own schedule (optional)"
    )
    parser.add_argument("candidates", nargs="*", type=Path)
    args = parser.parse_args(argv)
    seeds = [Path(p) for p in args.seeds.split(",") if p]
    if len(seeds) < 2:
        print("error: --seeds: give at least two seed runs", file=sys.stderr)
        sys.exit(2)
    for folder in [*seeds, *args.candidates, *([args.control] if args.control else [])]:
        if not RunFiles.of(folder).blimp.is_file():
            print(f"error: {folder}: no blimp.json", file=sys.stderr)
            sys.exit(2)
    print(report(seeds, args.candidates, args.control))


if __name__ == "__main__":
    main()

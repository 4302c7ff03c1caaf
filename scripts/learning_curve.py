"""BLiMP accuracy at each saved checkpoint of a run: learning_curve.json and .png.

    python -m scripts.learning_curve runs/plus-22m [--per-paradigm 100] [--epoch-ends] [--out DIR]

Each ``RUN/checkpoints/checkpoint-N`` is a loadable model folder (weights, config, tokenizer);
its BLiMP accuracy (standard protocol, a fixed stratified subset) is plotted against the tokens
seen at step N (from ``RUN/train/metrics.jsonl``). Keep more checkpoints with
``--set train.save_total_limit=20``; ``--epoch-ends`` scores only the checkpoints saved at the end
of an epoch (a run with ``train.eval_steps`` also saves in between). Writes into ``--out``
(default ``results/<run>/``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from babylm.checkpoints import list_checkpoints
from babylm.evaluation import blimp_pairs, score_pairs
from babylm.rundir import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--per-paradigm", type=int, default=100)
    parser.add_argument("--epoch-ends", action="store_true", help="only end-of-epoch checkpoints")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path("results") / args.run.name
    lines = (args.run / "train" / "metrics.jsonl").read_text().splitlines()
    tokens = {r["step"]: r["tokens_seen"] for r in map(json.loads, lines) if "tokens_seen" in r}
    pairs = {"blimp": blimp_pairs(per_paradigm=args.per_paradigm)}
    points = []
    found = reversed(list_checkpoints(args.run / "checkpoints"))  # oldest first
    checkpoints = [(int(p.name.removeprefix("checkpoint-")), p) for p in found]
    if args.epoch_ends:
        summary = json.loads((args.run / "train" / "summary.json").read_text())
        checkpoints = [(s, p) for s, p in checkpoints if s % summary["steps_per_epoch"] == 0]
    for step, ckpt in checkpoints:
        res = score_pairs(ckpt, pairs).results["blimp"]
        points.append(
            {"step": step, "tokens_seen": tokens.get(step), "overall": res["overall"]}
            | {"macro": res["macro"], "n_pairs": res["n_pairs"]}
        )
        print(f"step {step:>6}  tokens {tokens.get(step, 0):>10,}  BLiMP {res['overall']:.2%}")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "learning_curve.json", {"run": str(args.run), "points": points})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([p["tokens_seen"] for p in points], [100 * p["overall"] for p in points], marker="o")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel(f"BLiMP accuracy (%), {points[0]['n_pairs']:,} pairs" if points else "BLiMP")
    ax.set_title(f"Learning curve: {args.run.name}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=110)
    print(f"-> {out / 'learning_curve.json'}, {out / 'learning_curve.png'}")


if __name__ == "__main__":
    main()

"""BLiMP accuracy at each saved checkpoint of a run: learning_curve.json and .png.

    python -m scripts.learning_curve runs/plus-22m [--per-paradigm 100] [--epoch-ends] [--out DIR]

Each ``RUN/checkpoints/checkpoint-N`` is a loadable model folder (weights, config, tokenizer);
its BLiMP accuracy (standard protocol, a fixed stratified subset) is plotted against the tokens
seen at step N (from ``RUN/train/metrics.jsonl``). Keep more checkpoints with
``--set train.save_total_limit=20``; ``--epoch-ends`` scores only the checkpoints saved at the end
of an epoch (a run with ``train.eval_steps`` also saves in between). Writes into ``--out``
(default ``results/<run>/``).

Epochs are read from each checkpoint's own ``trainer_state.json``, so the curve of a run still
training (or killed) can be drawn too: pause the run (``kill -STOP``), score, resume it. A point
already in ``--out``'s ``learning_curve.json`` for the same checkpoint (step, size and time of
its weights) and the same pairs is kept, not scored again, so scoring after each epoch costs one
checkpoint each time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from babylm.checkpoints import list_checkpoints
from babylm.evaluation import blimp_pairs, score_pairs
from babylm.runfolder import RunFolder, learning_curve_file, read_json, write_json


def saved_checkpoints(run: Path, epoch_ends: bool = False) -> list[dict]:
    """Oldest first: step, epoch (from the checkpoint's trainer_state.json) and a fingerprint
    of its weights; with ``epoch_ends``, only those saved at the end of an epoch."""
    found = []
    for path in reversed(list_checkpoints(RunFolder(run).checkpoints)):
        state_file, weights = path / "trainer_state.json", path / "model.safetensors"
        if not (state_file.is_file() and weights.is_file()):
            continue  # still being written, or broken by a kill
        state = json.loads(state_file.read_text(encoding="utf-8"))
        epoch = round(float(state.get("epoch") or 0.0), 6)
        stat = weights.stat()
        found.append(
            {"step": int(state["global_step"]), "epoch": epoch, "path": path}
            | {"weights": f"{stat.st_size}:{stat.st_mtime_ns}"}
        )
    if epoch_ends:
        found = [c for c in found if c["epoch"] > 0 and c["epoch"] == int(c["epoch"])]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--per-paradigm", type=int, default=100)
    parser.add_argument("--epoch-ends", action="store_true", help="only end-of-epoch checkpoints")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path("results") / args.run.name
    run = RunFolder(args.run)
    curve_file = learning_curve_file(out)
    lines = run.metrics.read_text().splitlines()
    tokens = {r["step"]: r["tokens_seen"] for r in map(json.loads, lines) if "tokens_seen" in r}
    pairs = {"blimp": blimp_pairs(per_paradigm=args.per_paradigm)}
    n_pairs = len(pairs["blimp"])
    earlier = {}
    if curve_file.is_file():
        for p in read_json(curve_file)["points"]:
            if p.get("weights") and p["n_pairs"] == n_pairs:
                earlier[(p["step"], p["weights"])] = p
    points = []
    for ckpt in saved_checkpoints(args.run, args.epoch_ends):
        step = ckpt["step"]
        point = earlier.get((step, ckpt["weights"]))
        kept = point is not None
        if point is None:
            res = score_pairs(ckpt["path"], pairs).results["blimp"]
            point = {"step": step, "epoch": ckpt["epoch"], "tokens_seen": tokens.get(step)}
            point |= {"overall": res["overall"], "macro": res["macro"], "n_pairs": n_pairs}
            point["weights"] = ckpt["weights"]
        points.append(point)
        print(
            f"step {step:>6}  epoch {ckpt['epoch']:g}  tokens {tokens.get(step) or 0:>10,}"
            f"  BLiMP {point['overall']:.2%}{'  (kept)' if kept else ''}"
        )
    out.mkdir(parents=True, exist_ok=True)
    # A run still training (no summary yet) has a partial curve: more points will come.
    partial = run.read_summary() is None
    write_json(curve_file, {"run": str(args.run), "partial": partial, "points": points})
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
    fig.savefig(curve_file.with_suffix(".png"), dpi=110)
    print(f"-> {curve_file}, {curve_file.with_suffix('.png')}")


if __name__ == "__main__":
    main()

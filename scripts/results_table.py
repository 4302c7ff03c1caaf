"""Print RESULTS.md's experiment table from the committed results/<run>/ folders.

    python -m scripts.results_table [results/a-26m results/plus-normalize ...]

One row per run: its config diff against the a-26m preset, parameters, tokens seen, wall time,
best dev loss, BLiMP overall and macro (with the number of pairs) and per field, the time to
quality (the first epoch end at which the learning curve reaches the reference card's 57.2% on
the 6,700-pair subset), and the command that reproduces it. Every figure is read from the
run's files.
"""

from __future__ import annotations

import gzip
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from babylm.config import list_presets, load_config
from babylm.evaluation.aggregate import exact_accuracies
from babylm.runfolder import RunFiles, learning_curve_file, read_json
from babylm.tables import markdown_table, percent

BASE = "a-26m"
REFERENCE = 0.572  # the reference card's BLiMP accuracy: the time-to-quality mark
IGNORED = {"name", "description"}
SKIPPED = ("report.", "export.")


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_config(folder: Path) -> dict[str, Any]:
    """The run's resolved config, with keys added since the run took their defaults."""
    return load_config(str(RunFiles.of(folder).config)).to_dict()


def comparable(config: dict[str, Any], with_eval: bool = False) -> dict[str, Any]:
    """The flattened settings that make a run what it is (not its name, report or export)."""
    skipped = SKIPPED if with_eval else (*SKIPPED, "eval.")
    return {
        k: v for k, v in flatten(config).items() if k not in IGNORED and not k.startswith(skipped)
    }


def config_diff(config: dict[str, Any], preset: str, with_eval: bool = False) -> dict[str, Any]:
    base = flatten(load_config(preset).to_dict())
    return {k: v for k, v in comparable(config, with_eval).items() if base.get(k) != v}


def reproduce(config: dict[str, Any], run: str) -> str:
    """``babylm run PRESET --run-dir runs/RUN --set ...`` from the preset closest to the run."""
    preset = min(list_presets(), key=lambda p: len(config_diff(config, p, with_eval=True)))
    diff = config_diff(config, preset, with_eval=True)
    sets = "".join(f" --set {shlex.quote(f'{k}={_value(v)}')}" for k, v in diff.items())
    run_dir = "" if run == preset else f" --run-dir runs/{run}"
    return f"`babylm run {preset}{run_dir}{sets}`"


def exact_blimp(folder: Path, blimp: dict[str, Any]) -> dict[str, Any]:
    """Overall, macro and per-field BLiMP accuracy, unrounded, from ``pairs.jsonl.gz``.

    ``blimp.json`` stores accuracies rounded to 4 decimals; printing those to one decimal
    rounds twice (58.448% became 58.5). From the pair scores, every figure is rounded once.
    Falls back to ``blimp.json`` for a folder without pair scores.
    """
    pairs_file = RunFiles.of(folder).pairs
    if not pairs_file.is_file():
        fields = {k: v["acc"] for k, v in blimp["fields"].items()}
        return {"overall": blimp["overall"], "macro": blimp["macro"], "fields": fields}
    rows = map(json.loads, gzip.decompress(pairs_file.read_bytes()).splitlines())
    field_of = {name: paradigm["field"] for name, paradigm in blimp["paradigms"].items()}
    return exact_accuracies(rows, blimp["protocol"], field_of)


def time_to_reference(folder: Path) -> str:
    """Epoch, tokens and minutes at which ``learning_curve.json`` first reaches 57.2%.

    Minutes are the training log's ``elapsed_s`` at that step: wall time, so only comparable
    between runs that had the cores to themselves."""
    curve = learning_curve_file(folder)
    if not curve.is_file():
        return "not measured"
    points = read_json(curve)["points"]
    hit = next((p for p in points if p["overall"] >= REFERENCE), None)
    if hit is None:
        best = max(p["overall"] for p in points)
        return f"not reached (best {best * 100:.2f})"
    epoch: float = hit.get("epoch") or points.index(hit) + 1
    elapsed = None
    metrics = RunFiles.of(folder).metrics
    if metrics.is_file():
        for line in metrics.read_text().splitlines():
            m = json.loads(line)
            if m.get("step") == hit["step"] and "elapsed_s" in m:
                elapsed, epoch = m["elapsed_s"], m.get("epoch", epoch)
    minutes = f", {elapsed / 60:.0f} min{on_accelerator(folder)}" if elapsed is not None else ""
    return f"epoch {epoch:g} ({hit['tokens_seen'] / 1e6:.2f}M tokens{minutes})"


def on_accelerator(folder: Path) -> str:
    """`` on NVIDIA H200`` for a run trained on an accelerator, else nothing: its minutes are
    not the 2-CPU-core minutes the other rows (and the 3-hour budget) are in."""
    summary = RunFiles.of(folder).read_summary()
    if summary is None or summary.device == "cpu":
        return ""
    return f" on {summary.hardware or summary.device}"


def row(folder: Path) -> list[str]:
    config = run_config(folder)
    files = RunFiles.of(folder)
    summary = files.read_summary()
    if summary is None:
        raise SystemExit(f"error: {folder}: no train summary")
    blimp = read_json(files.blimp)
    exact = exact_blimp(folder, blimp)
    diff = config_diff(config, BASE)
    fields = ", ".join(f"{k} {percent(v)}" for k, v in sorted(exact["fields"].items()))
    return [
        f"[{folder.name}]({folder.as_posix()}/)",
        "; ".join(f"{k}={_value(v)}" for k, v in diff.items()) or "(the a-26m preset)",
        f"{summary.parameters / 1e6:.2f}M",
        f"{summary.tokens_seen / 1e6:.2f}M",
        f"{summary.wall_time_s / 60:.0f} min{on_accelerator(folder)}",
        f"{summary.best_dev_loss:.3f}",
        f"**{percent(exact['overall'])}** / {percent(exact['macro'])} ({blimp['n_pairs']:,})",
        fields,
        time_to_reference(folder),
        reproduce(config, folder.name),
    ]


def _value(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(map(str, v)) if v else "[]"
    return str(v)


def main(folders: list[Path]) -> None:
    header = [
        "run",
        "config diff vs a-26m",
        "params",
        "tokens seen",
        "wall time",
        "best dev loss",
        "BLiMP overall / macro (pairs)",
        "per field",
        "57.2% at (subset)",
        "reproduce",
    ]
    print(markdown_table(header, [row(folder) for folder in folders]))


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or sorted(
        p for p in Path("results").iterdir() if RunFiles.of(p).blimp.is_file()
    )
    main(args)

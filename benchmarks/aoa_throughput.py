"""Age of acquisition: ``babylm eval RUN --tasks aoa`` against the official AoA scorer, same CPU.

    python benchmarks/aoa_throughput.py --model runs/plus-22m/model
        [--checkpoints 3] [--words 125] [--contexts-per-word 20]
        [--text ../shared/data/babylm/dev]
        [--oracle ../shared/oracles/babylm-evaluation-pipeline-2025]

Builds, in a temporary folder, a run folder whose word checkpoints ``chck_<n>M`` (the first
``--checkpoints`` names of the strict-small schedule: chck_1M, chck_2M, ...) and ``model/``
are symlinks to the same ``--model``: what is measured is the time per checkpoint, not
learning (every checkpoint gives the same surprisals). The AoA data is written in the official
formats: ``aoa/cdi_childes.json`` holds, for the ``--words`` most frequent lower-case words of
``--text`` that have enough contexts, ``--contexts-per-word`` real contexts each, taken as the
official ``prepare_dataset.py`` takes them (a sentence's words before the word, at least 5;
here at most 30); ``aoa/cdi_human.csv`` made-up children's shares (logistic curves) for them.
``--text``: a file or a folder of files, by default the BabyLM dev text under
``../shared/data/babylm/dev`` if present, else the dev prefixes the package ships.

Both sides run as their own process, start-up and model loading included, on the CPU (CUDA
hidden), offline: ours as ``babylm eval RUN --tasks aoa --eval-data DIR``, the official as
``eval_aoa.sh`` runs it, ``python -m evaluation_pipeline.AoA_word.run --model_name bench/aoa
--backend causal --track_name strict-small --word_path ... --output_dir ...``, where
``bench/aoa`` is a Hugging Face cache (``HF_HUB_CACHE``) whose revisions ``chck_<n>M`` are the
run's checkpoint folders; the official code asks for all 19 strict-small revisions and skips
those not there, as it skips a missing one on the Hub. Ours does more: it also scores the
run's final model (``final_surprisal.json``) and fits the curves and the figure.

Prints each side's seconds and seconds per checkpoint (total over ``--checkpoints``), how
many surprisal rows agree within 1e-5 (the same step, word count, word, context id and
context; exit status 1 if any differ) and the largest difference, and last
``speedup_vs_official <x>`` (official seconds over ours). A figure, not a test: run it with
nothing else on the cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from babylm import data
from babylm.runfolder import RunFolder

ROOT = Path(__file__).resolve().parents[1]
MIN_WINDOW = 5
"""Words before the target, at least: the official ``prepare_dataset.py --window_size``."""
MAX_WINDOW = 30
"""Words before the target, at most (the official has no bound; long ones are rare)."""
SCHEDULE = [f"chck_{i}M" for i in range(1, 10)] + [f"chck_{10 * i}M" for i in range(1, 11)]
"""The official strict-small checkpoint names, in order."""
REPO = "bench/aoa"
AGES = range(16, 31)
TOLERANCE = 1e-5
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds ``cmd`` takes (its output is shown only if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return seconds


def _read_text(path: Path | None) -> tuple[str, str]:
    """The text contexts are taken from, and where it came from."""
    if path is None:
        dev = ROOT.parent / "shared" / "data" / "babylm" / "dev"
        if dev.is_dir() and any(p.is_file() for p in dev.iterdir()):
            path = dev
        else:
            names = data.embedded_sources("dev")
            text = "\n".join(
                data.embedded_source_bytes(n, "dev").decode("utf-8", errors="ignore") for n in names
            )
            return text, f"the embedded dev prefixes ({', '.join(names)})"
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise SystemExit(f"--text {path}: no files")
    text = "\n".join(p.read_bytes().decode("utf-8", errors="ignore") for p in files)
    return text, str(path)


def _contexts(text: str, n_words: int, per_word: int) -> dict[str, list[dict]]:
    """``cdi_childes.json``: the ``n_words`` most frequent lower-case words (after at least
    ``MIN_WINDOW`` words of a sentence) with ``per_word`` distinct contexts, the first in the
    text, each with the official ``word_in_context_stats``."""
    seen: Counter[str] = Counter()
    after: Counter[str] = Counter()  # how often each context starts a sentence's longer prefix
    pairs: Counter[tuple[str, str]] = Counter()
    kept: dict[str, dict[str, None]] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("= "):  # simple_wiki "= = = Title = = =" headers
            continue
        for sentence in _SENTENCE_END.split(line.strip()):
            tokens = sentence.split()
            for i in range(MIN_WINDOW, min(len(tokens), MAX_WINDOW + 1)):
                context, word = " ".join(tokens[:i]), tokens[i]
                after[context] += 1
                if len(word) > 1 and word.isalpha() and word.islower():
                    seen[word] += 1
                    pairs[context, word] += 1
                    chosen = kept.setdefault(word, {})
                    if len(chosen) < per_word:
                        chosen[context] = None
    words = [w for w, _ in seen.most_common() if len(kept[w]) >= per_word][:n_words]

    def stats(context: str, word: str) -> dict:  # as the official ``NGramStatisticsComputer``
        count, share = pairs[context, word], pairs[context, word] / after[context]
        return {"count": count, "frequency": share, "log_freq_per_million": math.log10(share * 1e6)}

    return {
        w: [{"context": c, "word_in_context_stats": stats(c, w)} for c in kept[w]] for w in words
    }


def _write_data(folder: Path, contexts: dict[str, list[dict]]) -> Path:
    """``folder/aoa/cdi_childes.json`` and ``cdi_human.csv`` (made-up logistic shares)."""
    aoa = folder / "aoa"
    aoa.mkdir(parents=True)
    (aoa / "cdi_childes.json").write_text(json.dumps(contexts, indent=2), encoding="utf-8")
    rng = random.Random(0)
    with (aoa / "cdi_human.csv").open("w", newline="", encoding="utf-8") as sink:
        table = csv.writer(sink)
        table.writerow(["word", "lexical_class", *AGES])
        for word in contexts:
            mid = rng.uniform(17, 28)
            shares = [
                0.95 / (1 + math.exp(-0.6 * (age - mid))) + rng.gauss(0, 0.02) for age in AGES
            ]
            table.writerow([word, "other", *(f"{min(1.0, max(0.0, s)):.3f}" for s in shares)])
    return folder


def _build_run(root: Path, model: Path, names: list[str]) -> RunFolder:
    """A run folder whose ``model/`` and word checkpoints are symlinks to ``model``."""
    run = RunFolder(root)
    run.word_checkpoints.mkdir(parents=True)
    run.model.symlink_to(model, target_is_directory=True)
    index = {}
    for step, name in enumerate(names, 1):
        (run.word_checkpoints / name).symlink_to(model, target_is_directory=True)
        words = int(name[5:-1]) * 10**6
        index[name] = {"words_mark": words, "words_seen": words, "step": step}
    run.word_checkpoint_index.write_text(json.dumps(index), encoding="utf-8")
    return run


def _hub_cache(cache: Path, run: RunFolder, names: list[str]) -> None:
    """A Hugging Face cache holding ``REPO`` with one revision per checkpoint folder."""
    repo = cache / f"models--{REPO.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "snapshots").mkdir()
    for k, name in enumerate(names, 1):
        commit = f"{k:040x}"
        (repo / "refs" / name).write_text(commit)
        (repo / "snapshots" / commit).symlink_to(run.word_checkpoints / name)


def _agreement(ours: list[dict], official: list[dict]) -> tuple[int, int, float]:
    """Rows that agree (the same keys, surprisals within ``TOLERANCE`` or both NaN), rows
    compared (the official ones), and the largest finite difference."""
    keys = ("step", "word_count", "target_word", "context_id", "context")
    same, worst = 0, 0.0
    for mine, theirs in zip(ours, official, strict=False):
        a, b = mine["surprisal"], theirs["surprisal"]
        if math.isnan(a) or math.isnan(b):
            ok = math.isnan(a) and math.isnan(b)
        else:
            worst = max(worst, abs(a - b))
            ok = abs(a - b) <= TOLERANCE
        same += ok and all(mine[k] == theirs[k] for k in keys)
    return same, len(official), worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a causal HF model folder")
    parser.add_argument("--checkpoints", type=int, default=3, help="word checkpoints (1-19)")
    parser.add_argument("--words", type=int, default=125, help="words scored")
    parser.add_argument("--contexts-per-word", type=int, default=20)
    parser.add_argument("--text", type=Path, help="a file or folder (default: the BabyLM dev)")
    parser.add_argument(
        "--oracle", type=Path,
        default=ROOT.parent / "shared/oracles/babylm-evaluation-pipeline-2025",
    )  # fmt: skip
    args = parser.parse_args()
    model, oracle = args.model.resolve(), args.oracle.resolve()
    if not (model / "config.json").is_file():
        raise SystemExit(f"--model {model}: not a model folder (no config.json)")
    if not (oracle / "evaluation_pipeline" / "AoA_word" / "run.py").is_file():
        raise SystemExit(f"--oracle {oracle}: not the official pipeline")
    if not 1 <= args.checkpoints <= len(SCHEDULE):
        raise SystemExit(f"--checkpoints: 1 to {len(SCHEDULE)} (the strict-small schedule)")
    names = SCHEDULE[: args.checkpoints]
    text, origin = _read_text(args.text)
    contexts = _contexts(text, args.words, args.contexts_per_word)
    if not contexts:
        raise SystemExit(f"{origin}: no word with {args.contexts_per_word} contexts")
    n_rows = sum(len(c) for c in contexts.values())
    print(f"{len(contexts)} words x {args.contexts_per_word} contexts = {n_rows:,} per"
          f" checkpoint (from {origin}); {len(names)} checkpoints: {', '.join(names)}",
          flush=True)  # fmt: skip
    offline = {"CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        eval_data = _write_data(work / "full_eval", contexts)
        run = _build_run(work / "run", model, names)
        _hub_cache(work / "hub", run, names)

        cmd = [sys.executable, "-m", "babylm", "eval", str(run.root), "--tasks", "aoa",
               "--eval-data", str(eval_data)]  # fmt: skip
        ours_s = _timed(cmd, {**os.environ, **offline}, ROOT)
        result = json.loads(run.aoa_eval.suite_result("aoa").read_text())
        ours = json.loads(run.aoa_eval.aoa_surprisal.read_text())["results"]
        print(f"ours: {ours_s:.1f} s (scoring in-process {result['scoring_s']:.1f} s, with the"
              f" final model)", flush=True)  # fmt: skip

        out = work / "official"
        cmd = [sys.executable, "-m", "evaluation_pipeline.AoA_word.run", "--model_name", REPO,
               "--backend", "causal", "--track_name", "strict-small",
               "--word_path", str(eval_data / "aoa" / "cdi_childes.json"),
               "--output_dir", str(out)]  # fmt: skip
        env = {
            **os.environ,
            **offline,
            "PYTHONPATH": str(oracle),
            "HF_HUB_CACHE": str(work / "hub"),
        }
        out.mkdir()
        official_s = _timed(cmd, env, out)
        found = list(out.rglob("AoA_word/surprisal.json"))
        if not found:
            raise SystemExit(f"the official run wrote no surprisal.json under {out}")
        official = json.loads(found[0].read_text())["results"]
        print(f"official: {official_s:.1f} s", flush=True)

    same, total, worst = _agreement(ours, official)
    n = len(names)
    print(f"\nmodel {model}  ({os.cpu_count()} CPUs, torch threads default, CUDA hidden)")
    print(f"{len(contexts)} words, {n_rows:,} contexts per checkpoint, {n} checkpoints")
    print("| side | seconds | s / checkpoint | rows |")
    print("|---|---:|---:|---:|")
    print(f"| ours (`babylm eval RUN --tasks aoa`) | {ours_s:.1f} | {ours_s / n:.2f} |"
          f" {len(ours):,} |")  # fmt: skip
    print(f"| official (`AoA_word.run`) | {official_s:.1f} | {official_s / n:.2f} |"
          f" {len(official):,} |")  # fmt: skip
    agree = same == total == len(ours)
    print(f"surprisals: {same:,}/{total:,} rows agree within {TOLERANCE:g}"
          f" (max |diff| {worst:.1e})" + ("" if agree else "  ** DIFFERENT **"))  # fmt: skip
    print(f"speedup_vs_official {official_s / ours_s:.2f}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

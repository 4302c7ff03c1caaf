"""BLiMP scoring throughput: our scorer, the plain batched scorer, the reference loop, lm-eval.

    python benchmarks/eval_throughput.py [--model runs/a-26m/model] [--per-paradigm 100]
    python benchmarks/eval_throughput.py --full     # babylm eval on all 67,000 pairs

On the same model and a stratified subset (100 pairs per paradigm: 6,700 pairs), times:
``babylm eval`` as a user runs it (start-up included; the prefix-tree scorer); the plain
length-sorted batched scorer in-process (model loading included); the reference project's
loop (one sentence per forward pass) on a few hundred pairs; and, where installed,
``lm_eval`` on a local task folder scoring BOS + sentence (start-up included). Prints pairs/s
of each and how many decisions agree with ours; the last line is
``speedup_vs_lm_eval <x.xx>``. A figure, not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from babylm.evaluation import blimp_pairs, pair_credit, write_lm_eval_tasks
from babylm.evaluation.scoring import encode_for_scoring, score_sequences


def ours(
    model: Path, per_paradigm: int | None, work: Path, scorer: str = "tree"
) -> tuple[float, dict]:
    out = work / f"ours-{scorer}-{per_paradigm}"
    cmd = [sys.executable, "-m", "babylm", "eval", str(model), "--tasks", "blimp"]
    cmd += ["--out", str(out), "--scorer", scorer]
    if per_paradigm:
        cmd += ["--per-paradigm", str(per_paradigm)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    rows = [
        json.loads(x)
        for x in gzip.decompress((out / "pairs.jsonl.gz").read_bytes()).split(b"\n")
        if x
    ]
    return seconds, {(r["paradigm"], r["pair_id"]): (r["good"], r["bad"]) for r in rows}


def plain(model_dir: Path, pairs) -> tuple[float, dict]:
    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    seqs = encode_for_scoring(tok, [p.good for p in pairs] + [p.bad for p in pairs])
    scores = score_sequences(model, seqs, 64, tok.pad_token_id or 0, progress=False)
    seconds = time.perf_counter() - start
    n = len(pairs)
    return seconds, {
        (p.paradigm, p.pair_id): (scores[i], scores[n + i]) for i, p in enumerate(pairs)
    }


def reference_loop(model_dir: Path, pairs) -> float:
    """The reference project's scorer: one sentence per forward pass, no batching."""
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    start = time.perf_counter()
    with torch.no_grad():
        for p in pairs:
            for text in (p.good, p.bad):
                ids = tok.encode(text, add_special_tokens=False)[:127]
                inp = torch.tensor([ids])
                logits = model(inp).logits
                torch.nn.functional.cross_entropy(logits[0, :-1], inp[0, 1:], reduction="sum")
    return time.perf_counter() - start


def lm_eval(model_dir: Path, pairs, work: Path) -> tuple[float, dict] | None:
    exe = shutil.which("lm_eval") or str(Path(sys.executable).with_name("lm_eval"))
    if not Path(exe).exists():
        return None
    tasks = work / "tasks"
    by_task = write_lm_eval_tasks(pairs, tasks, "bench_")
    out = work / "lm_eval_out"
    cmd = [
        exe,
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model_dir},dtype=float32",
        "--tasks",
        ",".join(by_task),
        "--include_path",
        str(tasks),
        "--batch_size",
        "64",
        "--device",
        "cpu",
        "--log_samples",
        "--output_path",
        str(out),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    scores = {}
    for file in out.rglob("samples_bench_*.jsonl"):
        name = file.name.removeprefix("samples_bench_").rsplit("_", 1)[0]
        for line in file.read_text().splitlines():
            sample = json.loads(line)
            (good, _), (bad, _) = (r[0] for r in sample["resps"])
            pair = by_task[f"bench_{name}"][sample["doc_id"]]
            key = (pair.paradigm, pair.pair_id)
            scores[key] = (float(good), float(bad))  # the samples file may hold strings
    return seconds, scores


def agree(a: dict, b: dict) -> str:
    same = sum(
        pair_credit(*a[k], "standard") == pair_credit(*b[k], "standard") for k in a if k in b
    )
    return f"{same}/{len(a)} decisions agree with ours"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/a-26m/model"))
    parser.add_argument("--per-paradigm", type=int, default=100)
    parser.add_argument("--reference-pairs", type=int, default=300)
    parser.add_argument(
        "--full", action="store_true", help="Only time `babylm eval` on all 67,000 pairs."
    )
    args = parser.parse_args()
    if args.full:
        with tempfile.TemporaryDirectory(prefix="babylm-evalbench-") as tmp:
            seconds, scores = ours(args.model, None, Path(tmp))
        report("babylm eval, full BLiMP", len(scores), seconds, f"{seconds / 60:.2f} min")
        print(f"full_blimp_minutes {seconds / 60:.2f}")
        return
    pairs = blimp_pairs(per_paradigm=args.per_paradigm)
    n = len(pairs)
    threads = torch.get_num_threads()
    print(f"model {args.model}, {n:,} pairs, torch {torch.__version__}, {threads} threads")
    with tempfile.TemporaryDirectory(prefix="babylm-evalbench-") as tmp:
        work = Path(tmp)
        s_ours, ours_scores = ours(args.model, args.per_paradigm, work)
        report("babylm eval", n, s_ours, "start-up included")
        s_plain, plain_scores = plain(args.model, pairs)
        report("plain batched scorer, in-process", n, s_plain, agree(ours_scores, plain_scores))
        subset = pairs[:: max(1, n // args.reference_pairs)]
        s_ref = reference_loop(args.model, subset)
        report("reference loop (1 sentence/pass)", len(subset), s_ref)
        theirs = lm_eval(args.model, pairs, work)
        if theirs is None:
            print("lm_eval not installed: pip install -e '.[eval]'")
            return
        s_lm, lm_scores = theirs
        report("lm-eval-harness", n, s_lm, "start-up included; " + agree(ours_scores, lm_scores))
        print(f"speedup_vs_lm_eval {s_lm / s_ours:.2f}")


def report(label: str, n: int, seconds: float, note: str = "") -> None:
    print(
        f"{label:<34} {n / seconds:8.1f} pairs/s  {n:,} pairs in {seconds:.1f} s  {note}",
        flush=True,
    )


if __name__ == "__main__":
    main()

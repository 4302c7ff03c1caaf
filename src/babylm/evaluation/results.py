"""What an evaluation wrote, read back and told: the terminal summary, the manifest's record,
and the figures results carry about the run they score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babylm.config import AOA_TASK, PAIR_TASKS, EvalConfig
from babylm.evaluation.aggregate import format_table
from babylm.runfolder import EvalFolder, RunFolder, read_json
from babylm.tables import percent


def run_extra(run: RunFolder | None) -> dict[str, Any]:
    """What results record about the run they score: its folder and the model's dev ppl."""
    if run is None:
        return {}
    summary = run.read_summary()
    return {"dev_ppl": summary.exported_dev_ppl if summary else None, "run": str(run.root)}


def print_results(results: dict[str, dict[str, Any]]) -> None:
    """The suite's headlines, each other pair task's accuracy, then BLiMP's table."""
    suite = {t: r for t, r in results.items() if r.get("protocol") == "babylm" and "headlines" in r}
    if suite:
        noun = "task" if len(suite) == 1 else "tasks"
        print(f"BabyLM 2025 suite (official protocol; {len(suite)} {noun})")
        for res in suite.values():
            for name, value in res["headlines"].items():
                half = res.get("headline_ties_half")
                also = f"  (ties half: {half:.2f})" if half is not None else ""
                print(f"  {name:<22} {value:7.2f}{also}  [{res['n_items']:,} items]")
    for task, res in results.items():
        if task in suite or task == "blimp":
            continue
        print(
            f"{task}: overall {percent(res['overall'], sign=True)},"
            f" macro {percent(res['macro'], sign=True)} ({res['n_pairs']:,} pairs)"
        )
    if "blimp" in results:
        res = results["blimp"]
        print(format_table(res))
        print(f"BLiMP overall {res['overall']:.4f} ({res['n_pairs']:,} pairs)", flush=True)


def result_summary(res: dict[str, Any]) -> dict[str, Any]:
    """What a manifest records of one task's results."""
    keys = ("headlines", "n_items") if "headlines" in res else ("overall", "macro", "n_pairs")
    return {k: res[k] for k in (*keys, "protocol")}


def read_results(folder: EvalFolder, ev: EvalConfig) -> dict[str, dict[str, Any]]:
    """The results an eval folder holds for ``ev``'s tasks, as ``evaluate`` returned them."""
    from babylm.evaluation.suite_tasks import resolve_tasks

    out = {}
    for name in [t for t in ev.tasks if t in PAIR_TASKS] + [Path(p).name for p in ev.pairs_dirs]:
        out[name] = read_json(folder.result(name))
    for task in resolve_tasks(ev.tasks, Path(ev.data_dir) if ev.data_dir else None):
        out[task] = read_json(folder.suite_result(task))
    if AOA_TASK in ev.tasks:
        out[AOA_TASK] = read_json(folder.suite_result(AOA_TASK))
    return out

"""Our scorer against lm-eval-harness on the same model and pairs (needs the `eval` extra).

The local task folder scores "" + sentence (``target_delimiter: ""``), i.e. BOS + sentence,
which is our standard protocol; lm-eval's own blimp tasks keep the default " " delimiter.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from babylm import data
from babylm.config import EvalConfig
from babylm.evaluation import blimp_pairs, evaluate, write_lm_eval_tasks
from tests.conftest import require

lm_eval = require("lm_eval")

PARADIGMS = ["anaphor_gender_agreement", "determiner_noun_agreement_2", "wh_island"]
PER_PARADIGM = 20


def test_log_likelihoods_and_accuracy_match_lm_eval(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    pairs = blimp_pairs(per_paradigm=PER_PARADIGM, paradigms=PARADIGMS)
    tasks = tmp_path / "tasks"
    names = list(write_lm_eval_tasks(pairs, tasks, "babylm_check_"))
    ev = EvalConfig(tasks=["blimp"], per_paradigm=PER_PARADIGM, paradigms=list(PARADIGMS))
    ours = evaluate(ev, tiny_model_dir, tmp_path / "ours")["blimp"]  # the eval stage's path
    theirs = simple_evaluate(
        model="hf",
        model_args=f"pretrained={tiny_model_dir},dtype=float32",
        tasks=names,
        task_manager=TaskManager(include_path=str(tasks)),
        log_samples=True,
        batch_size=8,
        device="cpu",
    )
    our_pairs = [
        json.loads(x)
        for x in gzip.decompress((tmp_path / "ours" / "pairs.jsonl.gz").read_bytes()).splitlines()
    ]
    for name in PARADIGMS:
        samples = sorted(theirs["samples"][f"babylm_check_{name}"], key=lambda s: s["doc_id"])
        embedded = {r["sentence_good"]: r["sentence_bad"] for r in data.load_blimp(name)}
        # the embedded data was the source of both: lm-eval read the same sentences
        assert all(embedded[s["doc"]["sentence_good"]] == s["doc"]["sentence_bad"] for s in samples)
        mine = [r for r in our_pairs if r["paradigm"] == name]
        assert len(samples) == len(mine) == PER_PARADIGM
        for sample, row in zip(samples, mine, strict=True):
            (good_ll, _), (bad_ll, _) = (r[0] for r in sample["resps"])
            assert row["good"] == pytest.approx(good_ll, abs=1e-4)
            assert row["bad"] == pytest.approx(bad_ll, abs=1e-4)
        acc = theirs["results"][f"babylm_check_{name}"]["acc,none"]
        assert ours["paradigms"][name]["acc"] == pytest.approx(acc, abs=1e-9)

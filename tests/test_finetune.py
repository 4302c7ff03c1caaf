"""Fine-tuning: task files read as the official code reads them, bad input refused in one
line before any work, and a finished task skipped on a rerun (exactness: test_finetune_oracle)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from babylm.errors import BabylmError
from babylm.finetune.tasks import TASKS, read_examples


def write_task(folder: Path, task: str, rows: list[dict], split: str = "train") -> Path:
    path = folder / "glue_filtered" / f"{task}.{split}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rte_rows(n: int) -> list[dict]:
    return [
        {"sentence1": f"A dog ran {i} times.", "sentence2": "A dog ran.", "label": i % 2}
        for i in range(n)
    ]


def test_texts_are_built_as_the_official_dataset_builds_them(tmp_path: Path) -> None:
    wsc = write_task(
        tmp_path, "wsc", [{"span1_text": "Anna", "span2_text": "she", "text": "T.", "label": 1}]
    )
    multirc = write_task(
        tmp_path,
        "multirc",
        [{"question": "Who?", "answer": "Bo", "paragraph": "P.", "label": 0}],
    )
    sst2 = write_task(tmp_path, "sst2", [{"sentence": "Good.", "label": 1}])
    assert read_examples(wsc, TASKS["wsc"], "train")[0].text == (
        'Does "she" refer to "Anna" in this passage?',
        "T.",
    )
    assert read_examples(multirc, TASKS["multirc"], "train")[0].text == (
        "Question: Who? Answer: Bo",
        "P.",
    )
    assert read_examples(sst2, TASKS["sst2"], "train")[0].text == "Good."
    assert TASKS["mnli"].num_labels == 3 and TASKS["mnli"].metrics == ("accuracy",)
    assert (TASKS["boolq"].batch_size, TASKS["wsc"].epochs, TASKS["mrpc"].metric_for_valid) == (
        16,
        30,
        "f1",
    )


BAD = {
    "missing field": ('{"sentence1": "a", "label": 0}\n', r":1: no 'sentence2' field \(rte\)"),
    "label outside": (
        '{"sentence1": "a", "sentence2": "b", "label": 2}\n',
        r":1: label 2 is not one of 0, 1",
    ),
    "not JSON": ('{"sentence1": "a", "sentence2": "b", "label": 0}\n{oops\n', r":2: invalid JSON"),
    "empty split": ("\n", r": no examples \(rte train split\)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_task_file_is_one_line_and_nothing_is_written(
    cli, smoke_run: tuple[Path, str], tmp_path: Path, case: str
) -> None:
    content, message = BAD[case]
    write_task(tmp_path, "rte", rte_rows(4), "valid")
    bad = tmp_path / "glue_filtered" / "rte.train.jsonl"
    bad.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    res = cli("finetune", str(smoke_run[0]), "--eval-data", str(tmp_path), "--tasks", "rte",
              "--out", str(out))  # fmt: skip
    assert res.code == 2
    assert res.err.startswith(f"babylm: error: {bad}")
    assert len(res.err.strip().splitlines()) == 1

    assert re.search(message, res.err), res.err
    assert not out.exists()


def test_other_bad_input(cli, smoke_run: tuple[Path, str], tmp_path: Path) -> None:
    run = str(smoke_run[0])
    write_task(tmp_path, "rte", rte_rows(4), "valid")
    (tmp_path / "glue_filtered" / "rte.train.jsonl").write_bytes(b'{"sentence1": "\xff"}\n')
    res = cli("finetune", run, "--eval-data", str(tmp_path), "--tasks", "rte")
    assert res.code == 2 and "rte.train.jsonl:1: not UTF-8" in res.err
    res = cli("finetune", run, "--eval-data", str(tmp_path), "--tasks", "rte,cola2")
    assert res.code == 2 and "--tasks: unknown task 'cola2'" in res.err
    res = cli("finetune", run, "--eval-data", str(tmp_path), "--tasks", "mrpc")
    assert res.code == 2 and "mrpc.train.jsonl: no such file (mrpc train split)" in res.err
    res = cli("finetune", run, "--eval-data", str(tmp_path), "--pooling", "mean")
    assert res.code == 2 and "--pooling: 'mean' is not one of first, final" in res.err
    assert not (smoke_run[0] / "finetune").exists()


def test_a_finished_task_is_skipped_and_a_changed_setting_redoes_it(
    cli, smoke_run: tuple[Path, str], tmp_path: Path
) -> None:
    write_task(tmp_path, "rte", rte_rows(16), "train")
    write_task(tmp_path, "rte", rte_rows(8), "valid")
    out = tmp_path / "out"
    args = ["finetune", str(smoke_run[0]), "--eval-data", str(tmp_path), "--tasks", "rte",
            "--epochs", "1", "--batch-size", "8", "--out", str(out)]  # fmt: skip
    first = cli(*args)
    assert first.code == 0, first.err
    results = out / "rte" / "results.json"
    written = results.stat().st_mtime_ns
    figures = json.loads(results.read_text())
    assert figures["pooling"] == "final" and figures["padding_side"] == "left"  # a causal model
    assert figures["optimizer_steps"] == 2 and figures["n_valid"] == 8
    preds = json.loads((out / "rte" / "predictions.json").read_text())["rte"]["predictions"]
    assert [p["id"] for p in preds] == [f"rte_{i}" for i in range(8)]
    again = cli(*args)
    assert again.code == 0 and "rte: up to date, skipped" in again.out
    assert results.stat().st_mtime_ns == written
    changed = cli(*args, "--lr", "1e-4")
    assert changed.code == 0 and "up to date" not in changed.out
    assert json.loads(results.read_text())["lr"] == 1e-4


def test_an_unknown_task_name_in_the_reader_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BabylmError, match="no such file"):
        read_examples(tmp_path / "x.jsonl", TASKS["rte"], "train")


def test_the_submission_gathers_every_tasks_predictions_as_the_official_collation(
    cli, smoke_run: tuple[Path, str], tmp_path: Path
) -> None:
    import shutil

    from babylm.evaluation.submission import GLUE_ORDER
    from babylm.runfolder import RunFolder

    run = RunFolder(tmp_path / "run")
    shutil.copytree(smoke_run[0], run.root, ignore=shutil.ignore_patterns("checkpoints"))
    for i, task in enumerate(GLUE_ORDER):
        where = run.finetune.task(task)
        where.root.mkdir(parents=True)
        rows = [{"id": f"{task}_{j}", "pred": (i + j) % 2} for j in range(3)]
        where.predictions.write_text(json.dumps({task: {"predictions": rows}}))
    shutil.rmtree(run.finetune.task("wsc").root)
    res = cli("submission", str(run.root), "--allow-missing")
    assert res.code == 0, res.err
    assert "left out (--allow-missing): glue wsc" in res.err
    content = json.loads(run.submission("strict-small").read_text())
    assert list(content["glue"]) == [t for t in GLUE_ORDER if t != "wsc"]  # the official order
    assert content["glue"]["mnli"]["predictions"][2] == {"id": "mnli_2", "pred": 1}


def test_the_card_reports_the_fine_tuned_tasks_and_their_pooling(
    cli, smoke_run: tuple[Path, str], tmp_path: Path
) -> None:
    import shutil

    from babylm.runfolder import RunFolder

    run = RunFolder(tmp_path / "run")
    shutil.copytree(smoke_run[0], run.root, ignore=shutil.ignore_patterns("checkpoints"))
    write_task(tmp_path, "rte", rte_rows(16), "train")
    write_task(tmp_path, "rte", rte_rows(8), "valid")
    tuned = cli("finetune", str(run.root), "--eval-data", str(tmp_path), "--tasks", "rte",
                "--epochs", "1", "--batch-size", "8")  # fmt: skip
    assert tuned.code == 0, tuned.err
    res = json.loads(run.finetune.task("rte").results.read_text())
    exported = cli("export", str(run.root))  # the new results make the card out of date
    assert exported.code == 0 and "export     built" in exported.out, exported.out
    card = run.card.read_text()
    assert "(Super)GLUE fine-tuning" in card
    row = f"| rte | {res['accuracy'] * 100:.1f}% |"
    assert row in card and "| 1 of 1 | final (left padding) |" in card

"""The BabyLM 2025 suite without the oracle: reading the official formats, bad input, the
completion spans, the tie rule, the word-checkpoint schedule and the submission's gaps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from babylm import word_checkpoints
from babylm.config import EvalConfig
from babylm.errors import BabylmError
from babylm.evaluation.aggregate import pair_credit
from babylm.evaluation.submission import build_submission, track_revisions
from babylm.evaluation.suite import choose, completion_runs, tie_credit
from babylm.evaluation.suite_tasks import (
    absent_tasks,
    fast_subset,
    read_items,
    read_reading,
    resolve_tasks,
    select_suite,
)
from babylm.runfolder import EvalFolder

EWOK_ROW = {
    "Domain": "spatial-relations", "ContextType": "direct", "ContextDiff": "antonym",
    "TargetDiff": "concept swap", "Context1": "The cup is on the box.",
    "Context2": "The cup is under the box.", "Target1": "The cup is above the box.",
    "Target2": "The cup is below the box.",
}  # fmt: skip
ROOT = Path(__file__).resolve().parents[1]
READING_HEADER = (
    ",item,word,Subtlex_log10,length,context_length,prev_word,prev_item,prev_length,"
    "RTfirstfix,RTfirstpass,RTgopast,RTrightbound,self_paced_reading_time\n"
)


def _write(folder: Path, name: str, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_babylm_without_a_data_folder_is_the_two_embedded_tasks() -> None:
    assert resolve_tasks(["babylm"], None) == ["blimp_filtered", "supplement_filtered"]
    items = read_items("blimp_filtered", None)
    assert len(items) == 59_875 and len({i.uid for i in items}) == 67
    assert items[0].sentences == items[0].completions  # whole sentences are scored
    assert len(read_items("supplement_filtered", None)) == 5_218
    with pytest.raises(BabylmError, match="ewok: not embedded; give --eval-data"):
        resolve_tasks(["ewok"], None)


def test_babylm_with_a_data_folder_needs_its_four_tasks(tmp_path: Path) -> None:
    _write(tmp_path / "ewok_filtered", "spatial-relations.jsonl", [EWOK_ROW])
    with pytest.raises(BabylmError, match=r"entity_tracking: no such task folder"):
        resolve_tasks(["babylm"], tmp_path)
    assert resolve_tasks(["ewok", "blimp_filtered"], tmp_path) == ["ewok", "blimp_filtered"]


def test_ewok_items_score_the_target_after_the_shared_context(tmp_path: Path) -> None:
    _write(tmp_path / "ewok_filtered", "spatial-relations.jsonl", [EWOK_ROW])
    (item,) = read_items("ewok", tmp_path)
    assert item.sentences[0] == "The cup is on the box. The cup is above the box."
    assert item.completions == (" The cup is above the box.", " The cup is below the box.")
    assert item.metadata["context_contrast"] == "antonym" and item.uid == "spatial-relations"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"Domain": "x"}\n', r"spatial-relations.jsonl:1: not a ewok row"),
        (b'{"Domain": "x"\n', r"spatial-relations.jsonl:1: invalid JSON"),
        (b"\n" + json.dumps(EWOK_ROW).encode() + b"\n\xff\n", r"jsonl:3: not UTF-8 \(byte offset"),
    ],
)
def test_a_bad_row_is_named_by_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    folder = tmp_path / "ewok_filtered"
    folder.mkdir()
    (folder / "spatial-relations.jsonl").write_bytes(content)
    with pytest.raises(BabylmError, match=message):
        read_items("ewok", tmp_path)


def test_an_empty_task_folder_and_a_reading_csv_without_its_columns(tmp_path: Path) -> None:
    (tmp_path / "entity_tracking").mkdir()
    with pytest.raises(BabylmError, match=r"entity_tracking: no \*\.jsonl files"):
        read_items("entity_tracking", tmp_path)
    (tmp_path / "reading").mkdir()
    (tmp_path / "reading" / "reading_data.csv").write_text(",item,word\n0,The,cat\n")
    with pytest.raises(BabylmError, match=r"reading_data\.csv: missing columns prev_item"):
        read_reading(tmp_path)
    rows = READING_HEADER + "0,,cat,1.0,3,1,,,,1,1,1,1,1\n"
    (tmp_path / "reading" / "reading_data.csv").write_text(rows)
    assert read_reading(tmp_path).frame["item"][0] == "None"  # as the official code reads it


def test_the_cli_says_one_line_exits_2_and_writes_nothing(
    cli, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = cli("eval", str(tiny_model_dir), "--tasks", "ewok", "--eval-data", str(tmp_path),
                 "--out", str(out))  # fmt: skip
    assert result.code == 2 and "ewok_filtered: no such task folder (ewok)" in result.err
    assert len(result.err.strip().splitlines()) == 1 and not out.exists()
    result = cli("eval", str(tiny_model_dir), "--checkpoints")
    assert result.code == 2 and "needs a run folder" in result.err


def test_completion_tokens_are_those_ending_after_the_completion_starts() -> None:
    # "<s>" + "The" + " cup" + " is" + " up" + "</s>": completion " is up"
    offsets = [(0, 0), (0, 3), (3, 7), (7, 10), (10, 13), (0, 0)]
    assert completion_runs(offsets, "The cup is up", " is up") == [(3, 5)]
    assert completion_runs(offsets, "The cup is up", "The cup is up") == [(1, 5)]
    # Without a BOS, the first token has no context and is never scored.
    assert completion_runs([(0, 3), (3, 7)], "The cup", "The cup") == [(1, 2)]


def test_the_official_tie_rule_and_ours() -> None:
    assert choose([-3.0, -3.0, -5.0]) == 0 and choose([-4.0, -3.0, -3.0]) == 1
    assert tie_credit([-3.0, -3.0, -5.0]) == 0.5 and tie_credit([-4.0, -3.0]) == 0.0
    assert pair_credit(-2.0, -2.0, "babylm") == 1.0
    assert pair_credit(-2.0, -2.0, "standard") == 0.5


def test_fast_subsets_have_the_official_sizes_and_never_change() -> None:
    items = read_items("blimp_filtered", None)
    fast = fast_subset("blimp_filtered", items)
    assert len(fast) == 67 * 200 and fast == fast_subset("blimp_filtered", items)
    sources = select_suite(EvalConfig(tasks=["supplement_filtered"]), fast=True)
    sizes = {u: 0 for u in ("hypernym", "qa_congruence_easy", "turn_taking")}
    for item in sources["supplement_filtered"]:
        if item.uid in sizes:
            sizes[item.uid] += 1
    assert sizes == {"hypernym": 50, "qa_congruence_easy": 50, "turn_taking": 50}


def test_the_word_checkpoint_schedule_is_the_official_one(tmp_path: Path) -> None:
    names = [f"chck_{m}M" for m in word_checkpoints.schedule_millions(100_000_000)]
    assert names == track_revisions("strict-small")
    strict = [f"chck_{m}M" for m in word_checkpoints.schedule_millions(1_000_000_000)]
    assert strict == track_revisions("strict") and len(strict) == 28
    assert word_checkpoints.schedule_millions(2_400_000) == [1, 2]
    path = tmp_path / "text.txt"
    path.write_text("one two  three\nfour\tfive\n\nsix")
    assert word_checkpoints.count_words(path) == 6


def test_checkpoints_on_a_run_without_them_is_one_line(cli, smoke_run) -> None:
    run_dir, _ = smoke_run
    result = cli("eval", str(run_dir), "--checkpoints")
    assert result.code == 2 and "no word checkpoints" in result.err
    assert "train.word_checkpoints=true" in result.err
    assert not (run_dir / "eval-checkpoints").exists()
    result = cli("submission", str(run_dir))
    assert result.code == 2 and "missing blimp_filtered" in result.err
    assert not list(run_dir.glob("submission-*.json"))


def test_compare_shows_the_suite_beside_the_published_2025_baselines() -> None:
    from babylm.report import Entry, suite_table

    run = Entry("mine", 0.5, 0.5, {}, {}, {}, 10, "standard", suite={"blimp_filtered": 61.234})
    assert suite_table([Entry("bare", 0.5, 0.5, {}, {}, {}, 10, "standard")]) is None
    header, rows = suite_table([run])
    assert header[:3] == ["Model", "BLiMP", "Supplement"]
    assert rows[0][:3] == ["**mine** (ours)", "61.23", ""]
    causal = next(r for r in rows if r[0] == "GPT-BERT (causal-focus), strict-small (causal)")
    assert causal[1:] == ["71.66", "63.21", "49.49", "9.89", "3.45", "33.96", "43.00"]


def test_the_report_plots_the_fast_suite_against_words_seen(tmp_path: Path) -> None:
    import shutil

    from babylm.report import write_report

    folders = []
    for name, base in (("early", 50.0), ("late", 60.0)):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copyfile(ROOT / "results" / "hybrid-4" / "blimp.json", folder / "blimp.json")
        checkpoints = {  # written out of order: the report sorts by words seen
            "chck_2M": {"words_mark": 2_000_000, "headlines": {"ewok": base + 2}},
            "chck_1M": {"words_mark": 1_000_000, "headlines": {"ewok": base, "wug_adj": 0.25}},
        }
        (folder / "fast.json").write_text(json.dumps({"checkpoints": checkpoints}))
        folders.append(folder)
    out = tmp_path / "report"
    written = write_report(folders, out, published=False)
    assert "words.png" in written["files"] and (out / "words.png").stat().st_size > 0
    md = (out / "report.md").read_text()
    assert "| run | checkpoint | words seen | ewok | wug_adj |" in md
    rows = [line for line in md.splitlines() if line.startswith("| late ")]
    assert rows == ["| late | chck_1M | 1M | 60.00 | 0.25 |", "| late | chck_2M | 2M | 62.00 |  |"]
    assert "Fast suite at the word checkpoints" in (out / "report.html").read_text()
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copyfile(folders[0] / "blimp.json", bare / "blimp.json")
    assert "words.png" not in write_report([bare], tmp_path / "r2", published=False)["files"]


@pytest.mark.parametrize("folder", ["eval", "eval-babylm"])  # the stage's, `babylm eval RUN`'s
def test_collected_results_keep_the_suite_and_fast_figures_for_compare(
    tmp_path: Path, folder: str
) -> None:
    from babylm.report import load_entry
    from babylm.runfolder import RunFolder
    from scripts import collect_results

    run = tmp_path / "run"
    suite = run / folder / "babylm"
    (suite / "ewok").mkdir(parents=True)
    (run / "eval-checkpoints").mkdir()
    (run / "config.yaml").write_text("name: run\n")
    (run / "eval").mkdir(exist_ok=True)
    (run / "eval" / "blimp.json").write_bytes((ROOT / "results/hybrid-4/blimp.json").read_bytes())
    (suite / "suite.json").write_text(json.dumps({"headlines": {"ewok": 51.0}}))
    (suite / "ewok" / "results.json").write_text("{}")
    (suite / "ewok" / "predictions.json").write_text("{}")
    assert RunFolder(run).suite_eval.suite == suite
    fast = {"checkpoints": {"chck_1M": {"words_mark": 10**6, "headlines": {"ewok": 50.0}}}}
    (run / "eval-checkpoints" / "fast.json").write_text(json.dumps(fast))
    out = tmp_path / "results" / "run"
    collect_results.main(run, out)
    assert sorted(p.name for p in (out / "suite").iterdir()) == ["ewok.json", "suite.json"]
    entry = load_entry(out)
    assert entry.suite == {"ewok": 51.0} and entry.fast_curve == fast["checkpoints"]
    assert load_entry(run).fast_curve == fast["checkpoints"]
    assert load_entry(run).suite == {"ewok": 51.0}


def test_a_backend_that_does_not_fit_the_model_is_one_line(
    cli, tiny_model_dir: Path, masked_dir: Path, tmp_path: Path
) -> None:
    args = ["--tasks", "blimp_filtered", "--out", str(tmp_path / "o")]
    mlm = cli("eval", str(tiny_model_dir), "--backend", "mlm", *args)
    assert mlm.code == 2
    assert mlm.err.strip() == (
        f"babylm: error: {tiny_model_dir}: is a causal LM; --backend mlm needs a masked LM"
    )
    causal = cli("eval", str(masked_dir), "--backend", "causal", *args)
    assert causal.code == 2 and "is a masked LM; --backend causal needs a causal LM" in causal.err
    mntp = cli("eval", str(tiny_model_dir), "--backend", "mntp", *args)
    assert mntp.code == 2 and "--backend mntp needs a tokenizer with a mask token" in mntp.err
    unknown = cli("eval", str(masked_dir), "--backend", "pll", *args)
    assert unknown.code == 2 and "eval.backend: 'pll' is not one of auto, causal" in unknown.err
    assert not (tmp_path / "o").exists()


def test_reading_with_a_backend_that_does_not_fit_the_model_is_one_line(
    cli, tiny_model_dir: Path, masked_dir: Path, tmp_path: Path
) -> None:
    data = write_suite_folder(tmp_path / "full_eval")
    out = tmp_path / "o"
    args = ["--tasks", "reading", "--eval-data", str(data), "--out", str(out)]
    mlm = cli("eval", str(tiny_model_dir), "--backend", "mlm", *args)
    assert mlm.code == 2 and len(mlm.err.strip().splitlines()) == 1
    assert mlm.err.strip() == (
        f"babylm: error: {tiny_model_dir}: is a causal LM; --backend mlm needs a masked LM"
    )
    causal = cli("eval", str(masked_dir), "--backend", "causal", *args)
    assert causal.code == 2 and len(causal.err.strip().splitlines()) == 1
    assert "is a masked LM; --backend causal needs a causal LM" in causal.err
    mntp = cli("eval", str(tiny_model_dir), "--backend", "mntp", *args)
    assert mntp.code == 2 and "--backend mntp needs a tokenizer with a mask token" in mntp.err
    assert not out.exists()


def _reading_rows(n: int) -> str:
    """A reading table in the official columns, with made-up times (seeded)."""
    import random

    rng = random.Random(0)
    words = ["cat", "sat", "on", "the", "mat", "dog", "see", "who"]
    lines = [READING_HEADER]
    for i in range(n):
        word, prev = words[i % len(words)], words[(i - 1) % len(words)]
        item = "The cat sat on the" if i % 3 else "Who did the dog"
        prev_cells = f"{prev},{item},{rng.randint(2, 9)}" if i % 4 else ",,"
        times = ",".join(f"{rng.uniform(150, 400):.1f}" for _ in range(5))
        lines.append(
            f"{i},{item},{word},{rng.uniform(1, 5):.3f},{rng.randint(2, 9)},"
            f"{rng.randint(1, 20)},{prev_cells},{times}\n"
        )
    return "".join(lines)


def write_suite_folder(root: Path, with_published_apart: bool = False) -> Path:
    """A small folder in the official full_eval layout: the four tasks ``babylm`` needs
    beside the embedded ones, and COMPS and wug_past when asked for."""
    _write(root / "ewok_filtered", "spatial-relations.jsonl", [EWOK_ROW] * 3)
    et = {"input_prefix": "Box 1 has the cat. Box 1 has", "options": [" the cat.", " the mat."],
          "numops": 0}  # fmt: skip
    _write(root / "entity_tracking", "regular.jsonl", [et] * 3)
    wug = [{"sentences": f"The dog is {w}.\tThe dog is {w}s.", "ratio": r}
           for w, r in (("blick", 0.4), ("dax", 0.9), ("fep", 0.1), ("zup", 0.6))]  # fmt: skip
    _write(root / "wug_adj_nominalization", "wug_adj_nominalization.jsonl", wug)
    (root / "reading").mkdir(parents=True)
    (root / "reading" / "reading_data.csv").write_text(_reading_rows(60))
    if with_published_apart:
        _write(root / "comps", "comps_base.jsonl", [COMPS_ROW] * 3)
        wug_past = [{**WUG_PAST_ROW, "ratio": r} for r in (0.7, 0.2, 0.5, 0.9)]
        _write(root / "wug_past_tense", "wug_past_tense.jsonl", wug_past)
    return root


COMPS_ROW = {"prefix_acceptable": "A dog is an animal that", "property_phrase": "can bark.",
             "prefix_unacceptable": "A cat is an animal that"}  # fmt: skip
WUG_PAST_ROW = {"sentences": "They blicked it.\tThey blought it.", "ratio": 0.7}


def test_comps_and_wug_past_are_scored_when_there_and_listed_missing_when_not(
    capsys: pytest.CaptureFixture[str], tiny_model_dir: Path, tmp_path: Path
) -> None:
    from babylm.evaluation.run import evaluate_suite, print_absent

    bare = write_suite_folder(tmp_path / "bare")
    assert "comps" not in resolve_tasks(["babylm"], bare)
    assert set(absent_tasks(["babylm"], bare)) == {"comps", "wug_past"}
    assert "organisers publish it apart" in absent_tasks(["babylm"], bare)["comps"]
    full = write_suite_folder(tmp_path / "full", with_published_apart=True)
    assert {"comps", "wug_past"} <= set(resolve_tasks(["babylm"], full))
    assert absent_tasks(["babylm"], full) == {}
    assert {i.uid for i in read_items("comps", full)} == {"base"}
    # `--tasks babylm --eval-data BARE`, on EWoK alone (the rest as the CLI runs it)
    ev = EvalConfig(tasks=["babylm"], data_dir=str(bare))
    out = tmp_path / "out"
    evaluate_suite(tiny_model_dir, out, select_suite(dataclasses.replace(ev, tasks=["ewok"])), ev)
    print_absent(ev)
    assert "not scored, listed as missing: wug_past, comps" in capsys.readouterr().out
    summary = json.loads((out / "babylm" / "suite.json").read_text())
    assert set(summary["missing"]) == {"comps", "wug_past"} and summary["tasks"] == ["ewok"]
    _, missing = build_submission(EvalFolder(out), None, EvalConfig(), allow_missing=True)
    assert f"comps (no {bare / 'comps'}: the organisers publish it apart from full_eval)" in (
        missing
    )
    assert any(m.startswith("wug_past (no ") for m in missing)


BAD_PUBLISHED_APART = {
    "comps no phrase": ("comps", "comps_base.jsonl", {k: v for k, v in COMPS_ROW.items()
                        if k != "property_phrase"}, "not a comps row: no 'property_phrase' field"),
    "comps not text": ("comps", "comps_wugs.jsonl", {**COMPS_ROW, "prefix_acceptable": 3},
                       "not a comps row: 'prefix_acceptable' is not a string"),
    "wug ratio": ("wug_past_tense", "wug_past_tense.jsonl", {**WUG_PAST_ROW, "ratio": "high"},
                  "not a wug_past row: 'ratio' 'high' is not a number"),
    "wug one sentence": ("wug_past_tense", "wug_past_tense.jsonl",
                         {**WUG_PAST_ROW, "sentences": "They blicked it."},
                         "not a wug_past row: 'sentences' holds fewer than two"),
    "wug no ratio": ("wug_past_tense", "wug_past_tense.jsonl", {"sentences": "a\tb"},
                     "not a wug_past row: no 'ratio' field"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_PUBLISHED_APART))
def test_a_malformed_comps_or_wug_past_file_is_one_line_naming_file_and_field(
    cli, tiny_model_dir: Path, tmp_path: Path, case: str
) -> None:
    folder, name, row, message = BAD_PUBLISHED_APART[case]
    data = write_suite_folder(tmp_path / "full_eval", with_published_apart=True)
    path = data / folder / name
    path.write_text(json.dumps(COMPS_ROW if folder == "comps" else WUG_PAST_ROW) + "\n"
                    + json.dumps(row) + "\n")  # fmt: skip
    out = tmp_path / "out"
    res = cli("eval", str(tiny_model_dir), "--tasks", "babylm", "--eval-data", str(data),
              "--out", str(out))  # fmt: skip
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    assert res.err.startswith(f"babylm: error: {path}:2: {message}"), res.err
    assert not out.exists()


def _blimp_predictions(right: bool) -> dict:
    """Predictions of the fast BLiMP set that are all right (or all wrong), made with the
    official prediction writer: two checkpoints of different figures."""
    from babylm.evaluation.suite import predictions

    items = select_suite(EvalConfig(tasks=["blimp_filtered"]), fast=True)["blimp_filtered"]
    scores = [[0.0, -1.0] if right else [-1.0, 0.0] for _ in items]
    return predictions("blimp_filtered", items, scores)


def test_a_missing_checkpoint_keeps_its_place_in_the_fast_lists(cli, tmp_path: Path) -> None:
    from babylm.runfolder import CheckpointEvals, RunFolder

    run = RunFolder(tmp_path / "run")
    evals = CheckpointEvals(run.checkpoint_evals.root)
    for name, right in (("chck_1M", True), ("chck_3M", False)):  # chck_2M is missing
        path = evals.checkpoint(name).suite_predictions("blimp_filtered")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_blimp_predictions(right)))
    strict = cli("submission", str(run.root))
    assert strict.code == 2 and len(strict.err.strip().splitlines()) == 1
    assert "or pass --allow-missing" in strict.err
    assert not run.submission("strict-small").exists()
    res = cli("submission", str(run.root), "--allow-missing")
    assert res.code == 0, res.err
    assert "left out (--allow-missing): checkpoint chck_2M (null at fast_eval_results[*][1])" in (
        res.err
    )
    assert "chck_1M/ewok (null at fast_eval_results.ewok[0]" in res.err
    fast = json.loads(run.submission("strict-small").read_text())["fast_eval_results"]
    assert {len(v) for v in fast.values()} == {len(track_revisions("strict-small"))}
    blimp = fast["blimp"]
    assert set(blimp[0].values()) == {1.0} and blimp[1] is None
    # all wrong (a few filtered pairs have two equal sentences, so never quite 0)
    assert max(blimp[2].values()) < 0.05 and blimp[3:] == [None] * 16
    assert fast["ewok"] == [None] * 19

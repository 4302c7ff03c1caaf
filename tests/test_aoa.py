"""Age of acquisition (``babylm eval RUN --tasks aoa``) without the official code: the files it
writes, surprisal as the definition says, the fits, the submission entry, and bad input.

``write_aoa_data``, ``fake_run`` and ``synthetic_rows`` are shared with ``test_aoa_oracle``.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from babylm.errors import BabylmError
from babylm.evaluation.aoa import submission_aoa, texts, word_runs
from babylm.evaluation.aoa_data import read_human, read_words
from babylm.evaluation.aoa_fit import checkpoint_words, child_fit, curve_fitness, model_fit
from babylm.evaluation.submission import SUBMISSION_KEYS, build_submission, track_revisions
from babylm.model import load_model, load_tokenizer
from babylm.runfolder import EvalFolder, RunFolder

CONTEXTS = {
    "you": ["I told", "thank", "what do", "are", "see"],
    "that": ["I know", "what is", "is it", "all"],
    "people": ["a lot of", "most", "the", "those old"],
    "water": ["a glass of", "the", "hot", "in the"],
    "dog": ["the", "a big", "my", "his little"],
    "know": ["I don't", "you", "do you", "I"],
    " up ": ["get", "come", "pick it", "look"],  # spaces around: stripped when scored
    "café": ["a small", "the", "at the"],
    "no": ["", "oh", "said"],  # an empty context: the text is " no"
    "yeah": ["oh", "well", "and", "yes"],
    # Frequent words of several tokens (3 x ln(V) nats at first: above the official "chance"
    # of log2(300,000)), whose surprisal a short smoke training brings below it.
    "nothing": ["there's", "I've got", "it's", "said", "for"],
    "morning": ["this", "good", "in the", "every"],
    "always": ["I", "you", "it's", "they"],
    "together": ["all", "get", "live", "go"],
    "a": ["what", "such"],  # one character: not scored, as officially
    "ball": [],  # no contexts: no rows
}
AGES = list(range(16, 31))


def _shares(midpoint: float, rng: random.Random, top: float = 0.95) -> list[float]:
    curve = [top / (1 + math.exp(-0.6 * (age - midpoint))) for age in AGES]
    return [round(min(1.0, max(0.0, v + rng.gauss(0, 0.02))), 3) for v in curve]


def write_aoa_data(folder: Path, contexts: dict[str, list[str]] | None = None) -> Path:
    """``folder/aoa/cdi_childes.json`` and ``cdi_human.csv`` in the official formats: every
    word's children's shares a logistic curve with noise, some cells empty, one row with
    too few ages, one never reaching half, one duplicated, one word absent."""
    contexts = CONTEXTS if contexts is None else contexts
    aoa = folder / "aoa"
    aoa.mkdir(parents=True, exist_ok=True)
    stats = {"count": 3, "frequency": 0.01, "log_freq_per_million": 1.5}
    data = {
        w: [{"context": c, "word_in_context_stats": stats} for c in cs]
        for w, cs in contexts.items()
    }
    (aoa / "cdi_childes.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    rng = random.Random(0)
    lines = ["word,lexical_class," + ",".join(map(str, AGES))]
    for i, word in enumerate(w for w in contexts if w != "people"):  # "people": not in the CSV
        cells = [f"{v}" for v in _shares(17 + (i * 7) % 13, rng)]
        if i % 3 == 1:
            cells[2] = cells[9] = ""  # NaN
        if word == "yeah":
            cells = [""] * 13 + cells[13:]  # two ages only: no child AoA
        if word == "that":
            cells = [f"{v * 0.4:.3f}" for v in _shares(20, rng)]  # never half: no AoA
        lines.append(f'"{word}",nouns,' + ",".join(cells))
    lines.append('"dog",nouns,' + ",".join("0.9" for _ in AGES))  # a second row: not used
    (aoa / "cdi_human.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


NORMS = ("model.norm.weight", "cls.predictions.transform.LayerNorm.weight")  # LLaMA, BERT


def fake_run(
    root: Path, model_dir: Path, millions: list[int], scales: list[float] | None = None
) -> RunFolder:
    """A run folder holding ``model_dir`` as its model and word checkpoints that are the same
    model with its final norm scaled (by ``scales``; default 1, 1.5, 2, ...): near 0 the
    model is uniform, so the surprisals move between checkpoints."""
    run = RunFolder(root)
    shutil.copytree(model_dir, run.model)
    index = {}
    scales = scales or [0.5 + 0.5 * k for k in range(1, len(millions) + 1)]
    for k, (m, scale) in enumerate(zip(millions, scales, strict=True), 1):
        folder = run.word_checkpoints / f"chck_{m}M"
        shutil.copytree(model_dir, folder)
        weights = folder / "model.safetensors"
        tensors = load_file(str(weights))
        final_norm = next(k for k in NORMS if k in tensors)
        tensors[final_norm] = tensors[final_norm] * scale
        save_file(tensors, str(weights), metadata={"format": "pt"})
        index[folder.name] = {"words_mark": m * 10**6, "words_seen": m * 10**6 + 7, "step": k}
    run.word_checkpoint_index.write_text(json.dumps(index))
    return run


def synthetic_rows(seed: int = 0, words: int = 60) -> list[dict]:
    """Surprisal rows of the strict-small schedule: each word's surprisal falls along a
    logistic in log10(words) from about 16 to 3 nats (its midpoint tied to the children's
    AoA of ``synthetic_human``), with noise; some NaN, some flat (fits that fail)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name in track_revisions("strict-small"):
        x = math.log10(checkpoint_words(name) or 1)
        for w in range(words):
            mid = 6.2 + 1.6 * (w % 20) / 20
            for c in range(5):
                if w % 17 == 3:
                    value = 9.0 + rng.normal(0, 0.01)  # flat: no acquisition
                else:
                    value = 3 + 13 / (1 + math.exp(4 * (x - mid))) + rng.normal(0, 0.4)
                if (w + c) % 23 == 0 and name == "chck_5M":
                    value = math.nan
                rows.append({"step": name, "word_count": int(checkpoint_words(name) or 0),
                             "target_word": f"w{w}", "context_id": c, "context": f"c{c}",
                             "surprisal": value})  # fmt: skip
    return rows


def synthetic_human(path: Path, words: int = 60, seed: int = 1) -> Path:
    """The children's shares for ``synthetic_rows``' words (midpoints 17 to 28 months)."""
    rng = random.Random(seed)
    lines = ["word," + ",".join(map(str, AGES))]
    for w in range(words):
        mid = 17 + 11 * (w % 20) / 20 + rng.gauss(0, 1.0)
        cells = [str(v) for v in _shares(mid, rng)]
        if w % 11 == 5:
            cells[4] = "nan"
        lines.append(f"w{w}," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def aoa_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_aoa_data(tmp_path_factory.mktemp("full_eval"))


@pytest.fixture
def run3(tmp_path: Path, tiny_model_dir: Path) -> RunFolder:
    return fake_run(tmp_path / "run", tiny_model_dir, [1, 2, 3])


def test_the_words_are_read_as_the_official_loader_reads_them(aoa_data: Path) -> None:
    words = read_words(aoa_data / "aoa" / "cdi_childes.json")
    assert words.words == [w for w in CONTEXTS if len(w) > 1]  # file order, "a" left out
    assert words.contexts[words.words.index("ball")] == []
    assert words.n_rows == sum(len(c) for w, c in CONTEXTS.items() if len(w) > 1)
    items = texts(words)
    assert items[0] == ("I told you", "you")
    assert ("get up", "up") in items and (" no", "no") in items


def test_the_word_is_the_tokens_that_end_after_it_starts() -> None:
    offsets = [(0, 0), (0, 1), (1, 6), (6, 10), (10, 11), (0, 0)]  # <s> I told you . </s>
    assert word_runs(offsets, "I told you.", "you.") == [(3, 5)]  # " you" ends after "y"
    assert word_runs(offsets, "I told you.", "") == []  # nothing ends after the end
    assert word_runs([(0, 3), (3, 7)], "you see", "you see") == [(1, 2)]  # never position 0


def test_a_surprisal_is_minus_the_log_probability_of_the_word_after_its_context(
    cli, run3: RunFolder, aoa_data: Path
) -> None:
    res = cli("eval", str(run3.root), "--tasks", "aoa", "--eval-data", str(aoa_data))
    assert res.code == 0, res.err
    folder = run3.aoa_eval
    official = json.loads(folder.aoa_surprisal.read_text())
    rows = official["results"]
    words = read_words(aoa_data / "aoa" / "cdi_childes.json")
    assert len(rows) == 3 * words.n_rows
    assert [r["step"] for r in rows[:: words.n_rows]] == ["chck_1M", "chck_2M", "chck_3M"]
    assert rows[words.n_rows]["word_count"] == 2_000_000
    assert rows[5]["target_word"] == "that" and rows[5]["context"] == "I know"
    assert rows[5]["context_id"] == 0
    assert {r["target_word"] for r in rows} == set(words.words) - {"ball"}
    # One row by hand: the model's own log-softmax over the word's tokens after its context.
    model, _ = load_model(run3.word_checkpoints / "chck_2M")
    tok = load_tokenizer(run3.word_checkpoints / "chck_2M")
    for row in [r for r in rows if r["step"] == "chck_2M"][::7]:
        text = row["context"].strip() + " " + row["target_word"].strip()
        enc = tok(text, return_offsets_mapping=True)
        ids = torch.tensor([enc["input_ids"]])
        with torch.no_grad():
            logprobs = model(input_ids=ids).logits[0].log_softmax(-1)
        start = len(text) - len(row["target_word"].strip())
        wanted = [i for i, (_, end) in enumerate(enc["offset_mapping"]) if end > start and i]
        by_hand = -sum(logprobs[i - 1, enc["input_ids"][i]].item() for i in wanted)
        assert row["surprisal"] == pytest.approx(by_hand, abs=1e-5), row
    result = json.loads(folder.suite_result("aoa").read_text())
    assert result["headlines"] == {"aoa": result["headline"]} and result["protocol"] == "babylm"
    assert result["n_items"] == words.n_rows and result["backend"] == "causal"
    assert result["checkpoints"]["chck_2M"]["words_seen"] == 2_000_007
    assert set(result["words"]) == set(words.words) - {"ball"}
    assert result["words"]["people"]["child"] is None  # not in the CSV
    final = json.loads(folder.aoa_final.read_text())["results"]
    assert len(final) == words.n_rows and {r["step"] for r in final} == {"main"}
    assert "aoa" in res.out


def test_the_tree_and_plain_scorers_give_the_same_surprisals(
    run3: RunFolder, aoa_data: Path, tmp_path: Path
) -> None:
    from babylm.config import EvalConfig
    from babylm.evaluation.aoa import Scorer

    words = read_words(aoa_data / "aoa" / "cdi_childes.json")
    folder = run3.word_checkpoints / "chck_1M"
    tree, _ = Scorer(texts(words), EvalConfig()).score(folder)
    plain, backend = Scorer(texts(words), EvalConfig(scorer="plain", batch_size=3)).score(folder)
    assert backend == "causal" and len(tree) == words.n_rows
    assert tree == pytest.approx(plain, abs=1e-5)


def test_the_fits_recover_the_curves_they_are_given(tmp_path: Path) -> None:
    ages = np.array(AGES)
    shares = np.array([0.9 / (1 + math.exp(-0.6 * (a - 22.0))) for a in AGES])
    child = child_fit(ages, shares)
    assert child.age == pytest.approx(22.0 - math.log(0.9 / 0.5 - 1) / 0.6, abs=1e-3)
    assert child_fit(ages, np.array([0.1, 0.2] + [math.nan] * 13)).params is None
    steps = np.array([1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8] * 2)
    surprisal = np.array([3 + 13 / (1 + math.exp(4 * (math.log10(s) - 7.0))) for s in steps])
    model = model_fit(steps, surprisal)
    assert model.params is not None and model.age is not None and 6.5 < model.age < 7.5
    assert model_fit(steps[:2], surprisal[:2]).age is None  # fewer than 3 values
    human = read_human(synthetic_human(tmp_path / "cdi_human.csv"))
    fitted = curve_fitness(synthetic_rows(), human)
    assert fitted["n_words"] > 30 and fitted["curve_fitness"] > 0.5  # built to agree
    assert fitted["words"]["w3"]["model"]["aoa"] is None  # flat: never acquired


def test_the_submission_puts_the_track_rows_after_reading(tmp_path: Path) -> None:
    from babylm.config import EvalConfig

    evals = EvalFolder(tmp_path / "eval")
    for task in SUBMISSION_KEYS:
        evals.suite_predictions(task).parent.mkdir(parents=True)
        evals.suite_predictions(task).write_text(json.dumps({task: {"predictions": []}}))
    rows = synthetic_rows(words=2)
    extra = [dict(r, step="chck_200M") for r in rows[:10]]  # not a strict-small checkpoint
    evals.aoa_surprisal.parent.mkdir(parents=True)
    evals.aoa_surprisal.write_text(json.dumps({"metadata": {}, "results": rows + extra}))
    content, missing = build_submission(evals, None, EvalConfig(), allow_missing=True)
    keys = list(content)
    assert keys[: len(SUBMISSION_KEYS) + 1] == [*SUBMISSION_KEYS.values(), "aoa"]
    assert json.dumps(content["aoa"]["results"]) == json.dumps(rows)  # NaN kept, as written
    assert not [m for m in missing if "aoa" in m]
    assert content["aoa"]["metadata"]["completed_steps"] == 19
    strict, problems = submission_aoa(evals.aoa_surprisal, track_revisions("strict"))
    assert strict is not None and problems[0].startswith("aoa checkpoint chck_300M, chck_400M")
    assert len({r["step"] for r in strict["results"]}) == 20 and len(problems) == 1
    uneven = {"results": rows + extra[:3]}
    evals.aoa_surprisal.write_text(json.dumps(uneven))
    _, problems = submission_aoa(evals.aoa_surprisal, track_revisions("strict"))
    assert "the checkpoints have different numbers of rows" in problems[-1]


BAD_WORDS = [
    ('{"dog": [{"context": "the"}', "cdi_childes.json:1: not valid JSON"),
    ('["dog"]', "cdi_childes.json: not a JSON object from each word to its contexts"),
    ('{"dog": {"context": "the"}}', "cdi_childes.json: word 'dog': its contexts are not a list"),
    ('{"dog": [{"context": "the"}, {"text": "a"}]}',
     "cdi_childes.json: word 'dog', context 1: not an object with a \"context\" string"),
    ('{"a": [{"context": "the"}]}', "cdi_childes.json: no contexts of words of two or more"),
]  # fmt: skip
BAD_HUMAN = [
    ("word,16,17,18\ndog,0.1,0.2,0.3\ncat,0.1,lots,0.3\n",
     "cdi_human.csv: row 2 (word 'cat'), column '17': 'lots' is not a number"),
    ("word,16,17\ndog,0.1,0.2\ncat,0.1,0.2,0.3,0.4\n", "cdi_human.csv: not a CSV table ("),
    ("item,16,17\ndog,0.1,0.2\n", "cdi_human.csv: no 'word' column"),
    ("word,age\ndog,16\n", "cdi_human.csv: no age columns"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), BAD_WORDS + BAD_HUMAN)
def test_a_bad_aoa_file_is_one_line_naming_it_and_nothing_is_written(
    cli, run3: RunFolder, aoa_data: Path, tmp_path: Path, body: str, message: str
) -> None:
    data = tmp_path / "full_eval"
    shutil.copytree(aoa_data, data)
    name = message.split(":")[0]
    (data / "aoa" / name).write_bytes(body.encode())
    res = cli("eval", str(run3.root), "--tasks", "aoa", "--eval-data", str(data))
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    assert res.err.startswith(f"babylm: error: {data / 'aoa'}/{message}"), res.err
    assert not run3.aoa_eval.root.exists()
    assert not list(run3.root.glob(".eval-*"))  # no half-written folder left


def test_missing_inputs_are_one_line_each(
    cli,
    run3: RunFolder,
    aoa_data: Path,
    tmp_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "full_eval"
    shutil.copytree(aoa_data, data)
    (data / "aoa" / "cdi_human.csv").unlink()
    cases = [
        (["--eval-data", str(data)], f"{data}/aoa/cdi_human.csv: no such file (aoa; "),
        ([], "eval.tasks: aoa needs eval.data_dir (--eval-data DIR"),
        (["--eval-data", str(aoa_data), "--checkpoints"], "--checkpoints: aoa scores every"),
        (["--eval-data", str(aoa_data), "--backend", "mlm"],
         f"{run3.word_checkpoints}/chck_1M: is a causal LM; --backend mlm needs a masked LM"),
    ]  # fmt: skip
    for args, message in cases:
        res = cli("eval", str(run3.root), "--tasks", "aoa", *args)
        assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
        assert res.err.startswith(f"babylm: error: {message}"), res.err
        assert not run3.aoa_eval.root.exists()
    shutil.rmtree(run3.word_checkpoints)
    res = cli("eval", str(run3.root), "--tasks", "aoa", "--eval-data", str(aoa_data))
    assert res.code == 2, res.err
    assert f"{run3.word_checkpoints}: no word checkpoints (chck_<n>M)" in res.err
    assert "train.word_checkpoints=true" in res.err and not run3.aoa_eval.root.exists()
    monkeypatch.chdir(tmp_path)  # where a model folder's results would go: runs/eval-*
    res = cli("eval", str(tiny_model_dir), "--tasks", "aoa", "--eval-data", str(aoa_data))
    assert res.code == 2 and "aoa: needs a run folder" in res.err, res.err
    assert not (tmp_path / "runs").exists()  # no folder made for results that cannot come


def test_a_bad_surprisal_file_stops_the_submission(tmp_path: Path) -> None:
    path = tmp_path / "surprisal.json"
    path.write_text('{"results": [{"word": "dog"}]}')
    with pytest.raises(BabylmError, match="not an AoA surprisal file"):
        submission_aoa(path, track_revisions("strict-small"))
    entry, problems = submission_aoa(tmp_path / "none.json", ["chck_1M"])
    assert entry is None and "babylm eval RUN --tasks aoa" in problems[0]


def test_a_run_that_asks_for_aoa_without_word_checkpoints_stops_before_any_work(
    tmp_path: Path,
) -> None:
    from babylm.config import load_config

    aoa_eval = ["eval.tasks=[aoa]", f"eval.data_dir={tmp_path}"]
    with pytest.raises(BabylmError, match=r"set train\.word_checkpoints=true"):
        load_config("smoke", aoa_eval)
    assert load_config("smoke", [*aoa_eval, "train.word_checkpoints=true"]).eval.tasks == ["aoa"]

"""Embedded data: BabyLM text prefixes, BLiMP, the BLiMP supplement and published BLiMP results
(see DATA.md).

All files are xz-compressed inside the package, so nothing is read from the network or from
outside the installed package.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import lzma
from importlib import resources
from pathlib import Path
from typing import Any

SPLITS = ("train", "dev")


def data_root() -> Path:
    return Path(str(resources.files("babylm") / "data"))


def embedded_sources(split: str = "train") -> list[str]:
    """Source names with an embedded prefix for ``split`` ("train" or "dev")."""
    return sorted(p.name.split(".")[0] for p in (data_root() / "babylm").glob(f"*.{split}.xz"))


def embedded_source_path(name: str, split: str) -> Path:
    return data_root() / "babylm" / f"{name}.{split}.xz"


@functools.lru_cache(maxsize=16)
def embedded_source_bytes(name: str, split: str) -> bytes:
    """The decompressed prefix of BabyLM ``<name>.<split>``, exactly as published."""
    return lzma.decompress(embedded_source_path(name, split).read_bytes())


def blimp_paradigms() -> list[str]:
    """The 67 BLiMP paradigm names (UIDs), sorted."""
    return sorted(p.name.removesuffix(".jsonl.xz") for p in (data_root() / "blimp").glob("*.xz"))


def load_blimp(paradigm: str) -> list[dict[str, Any]]:
    """All pairs of one paradigm, in file order, with the ``field`` spelling normalised."""
    rows = _read_jsonl_xz(data_root() / "blimp" / f"{paradigm}.jsonl.xz")
    for row in rows:
        # principle_A_case_2 says "syntax/semantics" where the other 13 say "syntax_semantics".
        row["field"] = row["field"].replace("/", "_")
    return rows


def supplement_tasks() -> list[str]:
    folder = data_root() / "blimp_supplement"
    return sorted(p.name.removesuffix(".jsonl.xz") for p in folder.glob("*.xz"))


def load_supplement(task: str) -> list[dict[str, Any]]:
    return _read_jsonl_xz(data_root() / "blimp_supplement" / f"{task}.jsonl.xz")


BLIMP_PAPER_MODELS = {"ngram": "5-gram", "lstm": "LSTM", "txl": "Transformer-XL", "gpt2": "GPT-2"}
REFERENCE_MODELS = {"a_26m": "reference 26M (2 MB)", "b_66m": "reference 66M (10 MB)"}


@functools.lru_cache(maxsize=1)
def published_blimp() -> dict[str, dict[str, Any]]:
    """Published per-paradigm BLiMP accuracies, by display name.

    Each entry: ``paradigms`` (UID -> accuracy), ``source`` (a citation line) and ``protocol``.
    The BLiMP paper's models and its human agreement cover all 67 paradigms on the full data;
    the reference models were scored on 200 pairs per paradigm without BOS, ties wrong.
    """
    folder = data_root() / "published"
    paper = "Warstadt et al. (2020), github.com/alexwarstadt/blimp raw_results/summary"
    rows = _read_jsonl_xz(folder / "models_summary.jsonl.xz")
    out: dict[str, dict[str, Any]] = {}
    for key, name in BLIMP_PAPER_MODELS.items():
        scores = {r["UID"]: r[key] for r in rows if r["UID"] != "overall"}
        out[name] = {"paradigms": scores, "source": paper, "protocol": "full BLiMP (paper)"}
    human = _read_csv_xz(folder / "human_validation_summary.csv.xz")
    known = set(out["GPT-2"]["paradigms"])  # the 2 paradigms dropped from BLiMP are left out
    out["human"] = {
        "paradigms": {
            r["Condition"]: float(r["total_mean"]) for r in human if r["Condition"] in known
        },
        "source": paper + " (human validation, mean agreement)",
        "protocol": "human agreement",
    }
    for key, name in REFERENCE_MODELS.items():
        table = _read_csv_xz(folder / f"reference_{key}_by_paradigm.csv.xz")
        out[name] = {
            "paradigms": {r["phenom"]: float(r["acc"]) for r in table},
            "source": "github.com/egemengulpinar/Llama-BabyLM work/model/results_by_phenom",
            "protocol": "200 pairs per paradigm, no BOS, ties wrong",
        }
    return out


def _read_csv_xz(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(lzma.decompress(path.read_bytes()).decode("utf-8"))))


def _read_jsonl_xz(path: Path) -> list[dict[str, Any]]:
    text = lzma.decompress(path.read_bytes()).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


EMBEDDED_SUITE = {"blimp_filtered": "blimp_filtered", "supplement_filtered": "blimp_supplement"}


def embedded_suite_files(task: str) -> dict[str, bytes]:
    """The official BabyLM 2025 files of an embedded suite task, ``{file name: bytes}``.

    ``blimp_filtered`` and ``supplement_filtered`` (the latter is the embedded supplement,
    byte-identical), decompressed exactly as published: ``{"adjunct_island.jsonl": b"..."}``.
    """
    folder = data_root() / EMBEDDED_SUITE[task]
    return {
        p.name.removesuffix(".xz"): lzma.decompress(p.read_bytes())
        for p in sorted(folder.glob("*.jsonl.xz"))
    }


@functools.lru_cache(maxsize=1)
def published_suite() -> list[dict[str, Any]]:
    """The BabyLM 2025 baselines' suite figures (causal scoring), one row per track and model:
    ``track``, ``scoring``, ``model`` and a float (or None) per headline (see DATA.md)."""
    rows = _read_csv_xz(data_root() / "published" / "babylm2025_baselines.csv.xz")
    fixed = {"track", "scoring", "model"}
    return [
        {k: (v if k in fixed else (float(v) if v else None)) for k, v in row.items()}
        for row in rows
    ]

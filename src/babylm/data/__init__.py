"""Embedded data: BabyLM text prefixes, BLiMP and the BLiMP supplement (see DATA.md).

All files are xz-compressed inside the package, so nothing is read from the network or from
outside the installed package.
"""

from __future__ import annotations

import functools
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


def _read_jsonl_xz(path: Path) -> list[dict[str, Any]]:
    text = lzma.decompress(path.read_bytes()).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]

"""Rebuild the embedded data in src/babylm/data/ from a copy of the shared data folder.

Run once by maintainers (``python -m scripts.vendor_data ../shared/data``); the package
then works on a machine without that folder. Everything is xz-compressed and
byte-identical to the source after decompression, except BLiMP, where only the
fields the toolkit uses are kept (see DATA.md).
"""

from __future__ import annotations

import json
import lzma
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "babylm" / "data"
BLIMP_KEYS = ("sentence_good", "sentence_bad", "field", "linguistics_term", "UID", "pairID")
XZ = lzma.PRESET_DEFAULT | lzma.PRESET_EXTREME


def _write_xz(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress(data, preset=XZ))


def main(shared: Path) -> None:
    for split, folder in (("train", "train_10M"), ("dev", "dev")):
        for src in sorted((shared / "babylm" / folder).iterdir()):
            name = src.name.split(".")[0]
            _write_xz(OUT / "babylm" / f"{name}.{split}.xz", src.read_bytes())
    for src in sorted((shared / "blimp").glob("*.jsonl")):
        rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
        text = "".join(
            json.dumps({k: r[k] for k in BLIMP_KEYS}, ensure_ascii=False) + "\n" for r in rows
        )
        _write_xz(OUT / "blimp" / f"{src.stem}.jsonl.xz", text.encode("utf-8"))
    for src in sorted((shared / "blimp_supplement").glob("*.jsonl")):
        _write_xz(OUT / "blimp_supplement" / f"{src.stem}.jsonl.xz", src.read_bytes())
    filtered = shared / "babylm_eval_2025" / "full_eval" / "blimp_filtered"
    for src in sorted(filtered.glob("*.jsonl")):
        _write_xz(OUT / "blimp_filtered" / f"{src.name}.xz", src.read_bytes())
    for src in sorted((shared / "published").glob("*.*")):
        if src.suffix in (".csv", ".jsonl"):
            _write_xz(OUT / "published" / f"{src.name}.xz", src.read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))

"""Find the newest checkpoint that is complete, so a killed run resumes from a good one.

The Trainer writes a checkpoint file by file; a kill (or a full disk) can leave a folder with a
truncated or missing file. Each file is checked cheaply against its own format: the
safetensors header must account for the file's exact size, the ``torch.save`` files are zip
archives whose members must pass their CRC, and ``trainer_state.json`` must parse.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
REQUIRED = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")


def list_checkpoints(folder: Path) -> list[Path]:
    """``checkpoint-N`` folders, newest (highest N) first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHECKPOINT.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from, or None when it is complete."""
    for name in REQUIRED:
        if not (path / name).is_file():
            return f"{name} is missing"
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        int(state["global_step"])
    except (ValueError, KeyError, TypeError):
        return "trainer_state.json is unreadable"
    problem = _safetensors_problem(path / "model.safetensors")
    if problem:
        return problem
    for file in sorted(path.glob("*.pt")) + sorted(path.glob("*.pth")):
        problem = _torch_zip_problem(file)
        if problem:
            return problem
    return None


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            (header_len,) = struct.unpack("<Q", fh.read(8))
            if header_len > size:
                return f"{path.name} is truncated"
            header = json.loads(fh.read(header_len))
    except (struct.error, ValueError):
        return f"{path.name} has no readable header"
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
    if 8 + header_len + max(ends, default=0) != size:
        return f"{path.name} is truncated ({size:,} bytes, header expects more)"
    return None


def _torch_zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):
        return f"{path.name} is truncated or not a torch.save archive"
    return f"{path.name} is corrupt ({bad})" if bad else None


def latest_good_checkpoint(folder: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest complete checkpoint, and the newer broken ones with what is wrong."""
    broken = []
    for path in list_checkpoints(folder):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, broken
        broken.append((path, problem))
    return None, broken

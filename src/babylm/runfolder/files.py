"""How a run folder is written: content hashes, atomic writes, staged folders, one writer.

Nothing here knows the layout (``layout``): these are the write disciplines every stage
follows, so a killed process never leaves a half-written file or folder that looks finished,
and two processes never write one run folder at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babylm.errors import BabylmError


def process_rank() -> int:
    """This process's rank under torchrun / accelerate launch (0 when not distributed).

    Only rank 0 writes into the run folder.
    """
    return int(os.environ.get("RANK", "0"))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a plain open() would not
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path) -> Any:
    """A JSON file the run folder holds; one line naming it when it is not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BabylmError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


@contextlib.contextmanager
def staged_output(stage_dir: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``stage_dir`` in one rename.

    On any exception (or a kill) the temporary folder is left out of the way under a dot
    name and removed on the next attempt; ``stage_dir`` keeps its previous complete content.
    """
    parent = stage_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{stage_dir.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{stage_dir.name}.tmp-", dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
    old = parent / f".{stage_dir.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if stage_dir.exists():
        os.replace(stage_dir, old)
    os.replace(tmp, stage_dir)
    shutil.rmtree(old, ignore_errors=True)


LOCK_FILE, LOCK_PID_FILE = ".lock", ".lock.pid"


@contextlib.contextmanager
def writer_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's one-writer lock (``RUN/.lock``) while a command writes into it.

    A second babylm process that wants to write the same folder stops at once with a one-line
    error naming the holder's pid, instead of the two corrupting each other's stages. The lock
    is an OS file lock (``filelock``): it dies with its process, so a killed run never leaves a
    stale lock behind. Under torchrun only rank 0 writes, so only rank 0 takes it.
    """
    from filelock import FileLock, Timeout

    if process_rank() > 0:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    lock, pid_file = FileLock(str(run_dir / LOCK_FILE)), run_dir / LOCK_PID_FILE
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = pid_file.read_text().strip() if pid_file.is_file() else "unknown"
        raise BabylmError(
            f"{run_dir}: another babylm process (pid {holder or 'unknown'}) is writing this run"
            " folder; wait for it to finish or stop it"
        ) from None
    try:
        pid_file.write_text(f"{os.getpid()}\n")
        yield
    finally:
        pid_file.unlink(missing_ok=True)
        lock.release()

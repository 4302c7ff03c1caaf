"""The run folder: stage outputs, manifests, atomic writes and stage skipping.

Each stage writes ``<run>/<stage>/`` with a ``manifest.json`` that records a fingerprint of
everything the stage read (its config and the content hashes of its input files). A stage
is skipped when its manifest's fingerprint matches; otherwise it is built in a temporary
sibling folder that is renamed into place only once complete, so a killed stage never
leaves a half-written folder that looks finished.

The manifest also keeps the settings themselves, so that a newer babylm, whose config has
fields this stage never knew, still recognises it as finished: a field added since counts as
unchanged while it is at its default (a new field's default is the behaviour from before it
existed), instead of retraining every finished run after an upgrade.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babylm import __version__

MANIFEST = "manifest.json"


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


def fingerprint(stage: str, settings: Any, inputs: dict[str, str]) -> str:
    """A hash of what a stage depends on: its settings and its inputs' content hashes."""
    payload = {"stage": stage, "settings": settings, "inputs": inputs}
    return sha256_bytes(json.dumps(payload, sort_keys=True, default=str).encode("utf-8"))


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


def read_manifest(stage_dir: Path) -> dict[str, Any] | None:
    """The stage's manifest, or None when the stage has not completed."""
    try:
        return json.loads((stage_dir / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def as_json(value: Any) -> Any:
    """``value`` as it reads back from a manifest (tuples become lists, paths strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def same_work(recorded: Any, current: Any, defaults: Any) -> bool:
    """Whether settings recorded by an earlier babylm describe the work ``current`` asks for.

    Every recorded key must hold the same value now; a key recorded then but gone now is a
    difference; a key that exists only now (a field added since) must be at its default.
    All three are JSON values (``as_json``), nested the same way.
    """
    if not (isinstance(recorded, dict) and isinstance(current, dict)):
        return bool(recorded == current)
    if recorded.keys() - current.keys():
        return False
    defaults = defaults if isinstance(defaults, dict) else {}
    missing = object()
    return all(
        same_work(recorded[key], value, defaults.get(key))
        if key in recorded
        else defaults.get(key, missing) == value
        for key, value in current.items()
    )


def is_fresh(
    stage_dir: Path, fp: str, inputs: dict[str, str], settings: Any, defaults: Any
) -> bool:
    """Whether the stage in ``stage_dir`` finished with these settings and inputs.

    The fingerprint decides; when it differs, a manifest that recorded its settings still
    counts as fresh if its inputs are the same and ``same_work`` holds (see the module
    docstring). A manifest from before settings were recorded has only its fingerprint.
    """
    manifest = read_manifest(stage_dir)
    if manifest is None:
        return False
    if manifest.get("fingerprint") == fp:
        return True
    recorded = manifest.get("settings")
    if recorded is None or manifest.get("inputs") != inputs:
        return False
    return same_work(recorded, as_json(settings), as_json(defaults))


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


def manifest_header(stage: str, fp: str, settings: Any = None) -> dict[str, Any]:
    """The manifest's first keys; ``settings`` are kept for ``is_fresh`` after an upgrade."""
    header = {
        "stage": stage,
        "fingerprint": fp,
        "babylm_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return header if settings is None else header | {"settings": as_json(settings)}


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

    from babylm.errors import BabylmError

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

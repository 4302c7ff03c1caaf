"""Stage manifests: what each finished stage read, so a stage is skipped, redone or resumed.

Each stage writes ``<run>/<stage>/`` with a ``manifest.json`` that records a fingerprint of
everything the stage read (its config and the content hashes of its input files). A stage
is skipped when its manifest's fingerprint matches; otherwise it is built in a staged folder
(``files.staged_output``) that is renamed into place only once complete, the manifest written
last, so a killed stage never leaves a half-written folder that looks finished.

The manifest also keeps the settings themselves, so that a newer babylm, whose config has
fields this stage never knew, still recognises it as finished: a field added since counts as
unchanged while it is at its default (a new field's default is the behaviour from before it
existed), instead of retraining every finished run after an upgrade.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from babylm import __version__
from babylm.runfolder.files import sha256_bytes

MANIFEST = "manifest.json"


def fingerprint(stage: str, settings: Any, inputs: dict[str, str]) -> str:
    """A hash of what a stage depends on: its settings and its inputs' content hashes."""
    payload = {"stage": stage, "settings": settings, "inputs": inputs}
    return sha256_bytes(json.dumps(payload, sort_keys=True, default=str).encode("utf-8"))


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


def manifest_header(stage: str, fp: str, settings: Any = None) -> dict[str, Any]:
    """The manifest's first keys; ``settings`` are kept for ``is_fresh`` after an upgrade."""
    header = {
        "stage": stage,
        "fingerprint": fp,
        "babylm_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return header if settings is None else header | {"settings": as_json(settings)}

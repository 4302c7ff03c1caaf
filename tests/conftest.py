"""Shared fixtures: an in-process CLI runner and small user-style BabyLM folders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from babylm.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``babylm ARGS...`` in-process and return its exit code and output."""

    def run(*args: str) -> CliResult:
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


SAMPLE_LINES = {
    "simple_wiki": [
        "= = = Zürich = = =",
        "Zürich is the largest city in Switzerland.",
        "It lies at the north end of Lake Zürich.",
        "",
    ],
    "bnc_spoken": ["Yeah.", "I   told  you so, didn't I?", "Mm.", "Where's the kettle gone?"],
    "open_subtitles": ["Come here!", "What's the matter with you?", "Nothing. — I'm fine.", "Go."],
}


def _numbered(line: str, i: int) -> str:
    """Vary the lines so BPE has something to learn; keep headers and blank lines as they are."""
    return f"{line}\n" if not line or line.startswith("=") else f"{line} {i}\n"


def write_babylm_folder(root: Path, repeat: int = 40) -> Path:
    """A BabyLM-shaped folder (train_10M/, dev/) with a few KB per source."""
    for split, folder in (("train", "train_10M"), ("dev", "dev")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, lines in SAMPLE_LINES.items():
            body = "".join(_numbered(line, i) for i in range(repeat) for line in lines)
            (root / folder / f"{name}.{split}").write_text(body, encoding="utf-8")
    return root


@pytest.fixture
def babylm_folder(tmp_path: Path) -> Path:
    return write_babylm_folder(tmp_path / "babylm")

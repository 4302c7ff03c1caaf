"""The age-of-acquisition inputs, read as the official BabyLM 2025 pipeline reads them.

``aoa/cdi_childes.json`` (in the official ``evaluation_data/full_eval``): an object from each
CDI word to its contexts, ``[{"context": "...", ...}, ...]``. The official scorer
(``AoA_word/eval_util.load_eval``, as ``eval_aoa.sh`` runs it: no minimum number of contexts)
keeps the words of two or more characters, in file order, each context in file order.
``aoa/cdi_human.csv``: one row per word (column ``word``) with the share of children producing
it at each age in months (columns ``16`` to ``30``, those present), read by pandas with its
defaults, as the official ``AoAEvaluator`` reads it.

Everything is checked before any model is loaded: a missing file, a bad byte, a malformed
entry or row stops with one line naming the file and the word, context or row at fault.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babylm.errors import BabylmError
from babylm.evaluation.tasks import decode_lines

FOLDER = "aoa"
WORDS_FILE = "cdi_childes.json"
HUMAN_FILE = "cdi_human.csv"
AGE_COLUMNS = tuple(str(age) for age in range(16, 31))
"""The official age columns (months), those a file has used in this order."""
WHERE = "the official full_eval's aoa/ folder holds cdi_childes.json and cdi_human.csv"


@dataclass(frozen=True)
class AoaWords:
    """The words scored and each one's contexts, in the official order."""

    words: list[str]
    contexts: list[list[str]]
    source: str

    @property
    def n_rows(self) -> int:
        """Surprisals per checkpoint: one per (word, context)."""
        return sum(len(c) for c in self.contexts)


@dataclass(frozen=True)
class HumanAoa:
    """The children's data: the CSV as pandas reads it, and its age columns."""

    frame: Any  # pandas.DataFrame
    ages: tuple[str, ...]
    source: str


def aoa_files(data_dir: Path) -> tuple[Path, Path]:
    """The two AoA files of an official ``full_eval`` folder."""
    return data_dir / FOLDER / WORDS_FILE, data_dir / FOLDER / HUMAN_FILE


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise BabylmError(f"{path}: no such file (aoa; {WHERE})")
    raw = path.read_bytes()
    decode_lines(raw, str(path))  # a bad byte stops with file:line and offset
    return raw


def read_words(path: Path) -> AoaWords:
    """``cdi_childes.json``: the words of two or more characters and their contexts."""
    raw = _read_bytes(path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise BabylmError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise BabylmError(f"{path}: not a JSON object from each word to its contexts")
    words, contexts = [], []
    for word, entries in data.items():
        if not isinstance(entries, list):
            raise BabylmError(f"{path}: word {word!r}: its contexts are not a list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("context"), str):
                raise BabylmError(
                    f'{path}: word {word!r}, context {i}: not an object with a "context" string'
                )
        if len(word) > 1:
            words.append(word)
            contexts.append([entry["context"] for entry in entries])
    if not any(contexts):
        raise BabylmError(f"{path}: no contexts of words of two or more characters to score")
    return AoaWords(words, contexts, str(path))


def read_human(path: Path) -> HumanAoa:
    """``cdi_human.csv``: a ``word`` column and numeric age columns (NaN allowed)."""
    import pandas as pd

    raw = _read_bytes(path)
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except (ValueError, pd.errors.ParserError) as exc:
        raise BabylmError(f"{path}: not a CSV table ({str(exc).strip().splitlines()[0]})") from None
    if "word" not in frame.columns:
        raise BabylmError(f"{path}: no 'word' column")
    ages = tuple(c for c in AGE_COLUMNS if c in frame.columns)
    if not ages:
        raise BabylmError(f"{path}: no age columns (the months 16 to 30)")
    if frame.empty:
        raise BabylmError(f"{path}: no rows")
    for column in ages:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        bad = values.notna() & pd.to_numeric(values, errors="coerce").isna()
        row = int(bad.to_numpy().argmax()) if bad.any() else 0
        raise BabylmError(
            f"{path}: row {row + 1} (word {frame['word'].iloc[row]!r}), column {column!r}:"
            f" {values.iloc[row]!r} is not a number"
        )
    return HumanAoa(frame, ages, str(path))


def read_aoa(data_dir: Path) -> tuple[AoaWords, HumanAoa]:
    """Both AoA files of ``data_dir`` (the official ``full_eval``), read and checked."""
    words_path, human_path = aoa_files(data_dir)
    return read_words(words_path), read_human(human_path)

"""Optional normalisation steps that make BabyLM text look more like the sentences BLiMP scores.

BLiMP pairs are single, mixed-case, punctuated sentences without markup or hesitations. The
three reference sources are not: subtitles have lines in capitals and sentences broken over
lines, BNC Spoken transcribes ``erm`` and ``er``, Simple Wikipedia keeps escaped ``<ref>``
markup and several sentences per line. Each step fixes one of these, line by line, so it can be
switched on alone (``corpus.normalize: [caps, sentences]``) and measured as one lever.

Steps run after ``corpus.clean_text`` on each chunk, in the fixed order of ``STEPS`` (fragments
are joined before capitals are lowered, because a line in capitals hides where sentences start).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection

_REF = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-z][a-z0-9]*\b[^<>]*>", re.IGNORECASE)
_PRONOUN_I = re.compile(r"\bi\b")
_SENTENCE_START = re.compile(r"^[^A-Za-z]*[a-z]|(?<=[.!?] )[^A-Za-z]*[a-z]")
# Hesitations transcribed in BNC Spoken (and subtitles); with one following comma, if any.
_FILLER = re.compile(r"\b(?:erm|er|um|uh|uhm|mm|mhm|hmm)\b,?\s*", re.IGNORECASE)
_DIALOGUE_DASH = re.compile(r"^[-\u2013\u2014]+\s*")
_SPACE_BEFORE = re.compile(r"\s+([,.!?;:](?:\s|$))")
_END = re.compile(r"[.!?\u2026]['\"\u201d\u2019)\]]*$|[:;]$")
# A sentence end: . ! or ? (and closing quotes/brackets), a space, then a capital or a quote.
_BOUNDARY = re.compile(r"(?<=[.!?])(['\"\u201d\u2019)\]]*)\s+(?=[\"\u201c\u2018']?[A-Z])")
_LEADING_PUNCT = re.compile(r"^\W+")
# Words before a full stop that do not end a sentence.
_ABBREVIATIONS = frozenset(
    re.findall(
        r"\w+",
        "mr mrs ms dr prof st jr sr vs etc no nos vol fig ca approx inc ltd co corp gen col lt"
        " sgt capt gov sen rep rev jan feb mar apr jun jul aug sep sept oct nov dec mt ft",
    )
)


def unescape_markup(line: str) -> str:
    """HTML entities decoded, then ``<ref>`` citations and other tags removed."""
    text = _TAG.sub("", _REF.sub("", html.unescape(line)))
    return " ".join(text.split())


def _all_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters)


def sentence_case_caps(line: str) -> str:
    """A line written all in capitals (as many subtitles are) in sentence case.

    Each sentence in it starts with a capital; proper names lose theirs; the pronoun ``I``
    keeps it. Lines with fewer than four letters (``OK.``, ``TV``) are left alone.
    """
    if not _all_caps(line):
        return line
    lowered = _PRONOUN_I.sub("I", line.lower())
    return _SENTENCE_START.sub(lambda m: m.group(0).upper(), lowered)


def tidy_punctuation(line: str) -> str:
    """A subtitle's leading dialogue dash and spaces before punctuation (``hotel .``) removed."""
    return _SPACE_BEFORE.sub(r"\1", _DIALOGUE_DASH.sub("", line)).strip()


def drop_fillers(line: str) -> str:
    """Hesitations (``erm``, ``er``, ``um``, ``mm``) removed; a lost initial capital restored."""
    text = " ".join(_FILLER.sub("", line).split())
    text = text.lstrip(",;: ")
    if not any(c.isalnum() for c in text):  # nothing but hesitation was said: drop the line
        return ""
    if text[0].islower() and line[:1].isupper():
        text = text[0].upper() + text[1:]
    return text


def split_sentences(line: str) -> list[str]:
    """A line holding several sentences as one line per sentence.

    Splits after ``.``, ``!`` or ``?`` followed by a space and a capital, unless the full stop
    ends a known abbreviation (``Mr.``, ``St.``) or an initial (``J. S. Bach``).
    """
    pieces: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(line):
        end = m.start() + len(m.group(1))
        before = line[start : m.start()]
        last_word = _LEADING_PUNCT.sub("", before.split()[-1])  # before ends in . ! or ?
        if before.endswith(".") and (
            last_word[:-1].lower() in _ABBREVIATIONS or len(last_word.rstrip(".")) <= 1
        ):
            continue
        pieces.append(line[start:end].strip())
        start = m.end()
    pieces.append(line[start:].strip())
    return [p for p in pieces if p]


def join_fragments(lines: list[str]) -> list[str]:
    """A line without closing punctuation joined with the next if that one starts in lower case,
    or if both are in capitals (subtitles break one sentence over two screen lines)."""
    out: list[str] = []
    for line in lines:
        continues = line[:1].islower() or (out and _all_caps(out[-1]) and _all_caps(line))
        if out and continues and not _END.search(out[-1]):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


def _per_line(fn: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda lines: [fn(line) for line in lines]


STEPS: dict[str, Callable[[list[str]], list[str]]] = {
    "markup": _per_line(unescape_markup),
    "punctuation": _per_line(tidy_punctuation),
    "fillers": _per_line(drop_fillers),
    "join": join_fragments,
    "caps": _per_line(sentence_case_caps),
    "sentences": lambda lines: [s for line in lines for s in split_sentences(line)],
}
"""Every step by name, in the order they run."""


def normalize_text(text: str, steps: Collection[str]) -> str:
    """Apply the named steps (in ``STEPS`` order) to newline-terminated lines; drop empty ones."""
    lines = text.splitlines()
    for name, step in STEPS.items():
        if name in steps:
            lines = step(lines)
    return "".join(f"{line}\n" for line in lines if line.strip())

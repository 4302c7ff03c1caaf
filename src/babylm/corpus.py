"""Corpus stage: read BabyLM sources, optionally clean them, and mix equal bytes of each.

The mix follows the reference builder: a byte budget is split as evenly as integers allow
(the first sources get the remainder), then each source's quota is taken from its start in
chunks of ``chunk_bytes`` and the chunks are interleaved round-robin. Without cleaning this
reproduces the reference training file byte for byte. With cleaning, cuts fall on line ends.
A cut never splits a UTF-8 character.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from babylm import data
from babylm.config import KNOWN_SOURCES, CorpusConfig
from babylm.errors import BabylmError
from babylm.normalize import normalize_text
from babylm.runfolder import atomic_write_bytes, sha256_bytes, sha256_file

READ_BLOCK = 1 << 20
_WIKI_HEADER = re.compile(r"^(?:= )+.+(?: =)+$")


@dataclass(frozen=True)
class Source:
    """One text source for one split: an embedded prefix (``path`` None) or a user file."""

    name: str
    split: str
    path: Path | None = None

    @property
    def origin(self) -> str:
        return str(self.path) if self.path else f"embedded:{self.name}.{self.split}"

    def size(self) -> int:
        if self.path is None:
            return len(data.embedded_source_bytes(self.name, self.split))
        return self.path.stat().st_size

    def open(self) -> BinaryIO:
        if self.path is None:
            return io.BytesIO(data.embedded_source_bytes(self.name, self.split))
        return open(self.path, "rb")

    def sha256(self) -> str:
        if self.path is None:
            return sha256_bytes(data.embedded_source_bytes(self.name, self.split))
        return sha256_file(self.path)


def locate_sources(cfg: CorpusConfig, split: str) -> list[Source]:
    """Find each configured source for ``split`` ("train" or "dev"), or fail naming the file."""
    if cfg.data_dir is None:
        available = data.embedded_sources(split)
        for name in cfg.sources:
            if name not in available:
                raise BabylmError(
                    f"corpus.sources: {name!r} is not in the embedded data (it has"
                    f" {', '.join(available)}); set corpus.data_dir to a BabyLM folder"
                )
        return [Source(name, split) for name in cfg.sources]
    root = Path(cfg.data_dir).expanduser()
    if not root.is_dir():
        raise BabylmError(f"corpus.data_dir: {root} is not a folder")
    folder = root / (cfg.train_split if split == "train" else "dev")
    found = []
    for name in cfg.sources:
        candidates = [folder / f"{name}.{split}", root / f"{name}.{split}"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            hint = "" if name in KNOWN_SOURCES else f" (known sources: {', '.join(KNOWN_SOURCES)})"
            raise BabylmError(f"{candidates[0]}: source file not found{hint}")
        found.append(Source(name, split, path))
    return found


def split_quota(total: int, n: int) -> list[int]:
    """``total`` bytes over ``n`` sources, as evenly as integers allow, remainder first."""
    per, rem = divmod(total, n)
    return [per + (1 if i < rem else 0) for i in range(n)]


def check_budget(cfg: CorpusConfig) -> None:
    """Fail before any work when a source has less raw text than its quota."""
    for split, total in (("train", cfg.total_bytes), ("dev", cfg.dev_bytes)):
        sources = locate_sources(cfg, split)
        key = "corpus.total_bytes" if split == "train" else "corpus.dev_bytes"
        for src, quota in zip(sources, split_quota(total, len(sources)), strict=True):
            size = src.size()
            if size == 0:
                raise BabylmError(f"{src.origin}: file is empty")
            if size < quota:
                msg = (
                    f"{key}: {total:,} bytes need {quota:,} bytes of {src.name}.{split},"
                    f" but {src.origin} has only {size:,}"
                )
                if cfg.data_dir is None:
                    msg += (
                        "; this config needs a BabyLM folder with more text: set"
                        " corpus.data_dir to a folder with train_10M/ (or train_100M/) and dev/"
                    )
                raise BabylmError(msg)


def clean_text(text: str) -> str:
    """NFKC, whitespace runs collapsed, wiki ``= = = Title = = =`` headers and empty lines dropped.

    Works line by line, so cleaning chunks cut at line ends equals cleaning their whole.
    Every kept line ends with a newline.
    """
    kept = []
    for line in text.split("\n"):
        line = " ".join(unicodedata.normalize("NFKC", line).split())
        if line and not _WIKI_HEADER.match(line):
            kept.append(line + "\n")
    return "".join(kept)


def read_source(src: Source, need: int) -> bytes:
    """At least ``need`` bytes from the start of the source (all of it if shorter), checked
    to be UTF-8. Reads line-complete blocks, so a large user corpus is not read whole."""
    parts: list[bytes] = []
    got = 0
    with src.open() as fh:
        while got < need:
            block = fh.read(READ_BLOCK)
            if not block:
                break
            block += fh.readline()  # end the block on a line end ("\n" is never mid-character)
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BabylmError(
                    f"{src.origin}: invalid UTF-8 at byte offset {got + exc.start}"
                ) from None
            parts.append(block)
            got += len(block)
    if got == 0:
        raise BabylmError(f"{src.origin}: file is empty")
    return b"".join(parts)


def _cut(data: bytes, start: int, end: int, on_lines: bool) -> int:
    """The cut point at or before ``end`` (and after ``start``): a line end if ``on_lines``
    and the window has one, else a UTF-8 character boundary."""
    if end >= len(data):
        return len(data)
    if on_lines:
        newline = data.rfind(b"\n", start, end)
        if newline >= start:
            return newline + 1
    cut = end
    while cut > start and 0x80 <= data[cut] < 0xC0:  # a continuation byte starts the next part
        cut -= 1
    if cut == start:  # a window shorter than one character: move forward instead
        cut = end
        while cut < len(data) and 0x80 <= data[cut] < 0xC0:
            cut += 1
    return cut


def cut_chunks(text: bytes, quota: int, chunk_bytes: int, on_lines: bool) -> list[bytes]:
    """The first ``quota`` bytes of ``text`` (fewer, to end on a boundary) in chunks."""
    limit = _cut(text, 0, min(quota, len(text)), on_lines)
    chunks = []
    pos = 0
    while pos < limit:
        end = min(pos + chunk_bytes, limit)
        if end < limit:
            end = _cut(text, pos, end, on_lines)
        chunks.append(text[pos:end])
        pos = end
    return chunks


def mix_round_robin(chunk_lists: list[list[bytes]]) -> bytes:
    """Interleave the sources' chunks: first chunk of each, then the second of each, ..."""
    out = []
    for i in range(max((len(c) for c in chunk_lists), default=0)):
        out.extend(chunks[i] for chunks in chunk_lists if i < len(chunks))
    return b"".join(out)


def build_split(
    sources: list[Source],
    total: int,
    chunk_bytes: int,
    clean: bool,
    normalize: Collection[str] = (),
) -> tuple[bytes, dict[str, Any]]:
    """Mix one split; return its bytes and per-source statistics for the manifest.

    The budget counts raw source bytes (the data a model is allowed to see); with ``clean``
    the cuts fall on line ends and each chunk is cleaned (then normalised) after it is taken.
    """
    quotas = split_quota(total, len(sources))
    chunk_lists, stats = [], {}
    for src, quota in zip(sources, quotas, strict=True):
        text = read_source(src, quota)
        if len(text) < quota:
            raise BabylmError(
                f"{src.origin}: has {len(text):,} bytes, fewer than its quota {quota:,}"
            )
        chunks = cut_chunks(text, quota, chunk_bytes, on_lines=clean)
        raw_bytes = sum(len(c) for c in chunks)
        if clean:
            texts = (normalize_text(clean_text(c.decode("utf-8")), normalize) for c in chunks)
            chunks = [t.encode("utf-8") for t in texts if t]
        taken = b"".join(chunks)
        chunk_lists.append(chunks)
        stats[src.name] = {
            "origin": src.origin,
            "quota": quota,
            "raw_bytes": raw_bytes,
            "bytes": len(taken),
            "lines": taken.count(b"\n"),
            "chunks": len(chunks),
            "sha256": sha256_bytes(taken),
        }
    return mix_round_robin(chunk_lists), stats


def corpus_inputs(cfg: CorpusConfig) -> dict[str, str]:
    """Content hashes of every source file the stage reads (for its fingerprint)."""
    return {
        src.origin: src.sha256() for split in ("train", "dev") for src in locate_sources(cfg, split)
    }


def build_corpus(cfg: CorpusConfig, out_dir: Path) -> dict[str, Any]:
    """Write ``train.txt`` and ``dev.txt`` into ``out_dir``; return the manifest body."""

    body: dict[str, Any] = {
        "settings": {
            "data_dir": cfg.data_dir or "embedded",
            "train_split": cfg.train_split,
            "sources": cfg.sources,
            "total_bytes": cfg.total_bytes,
            "dev_bytes": cfg.dev_bytes,
            "chunk_bytes": cfg.chunk_bytes,
            "clean": cfg.clean,
            "normalize": cfg.normalize,
            "mixing": "round-robin, equal bytes per source",
        }
    }
    for split, total in (("train", cfg.total_bytes), ("dev", cfg.dev_bytes)):
        text, stats = build_split(
            locate_sources(cfg, split), total, cfg.chunk_bytes, cfg.clean, cfg.normalize
        )
        name = f"{split}.txt"
        atomic_write_bytes(out_dir / name, text)
        body[split] = {
            "file": name,
            "bytes": len(text),
            "lines": text.count(b"\n"),
            "words": len(text.split()),
            "sha256": sha256_bytes(text),
            "md5": hashlib.md5(text).hexdigest(),
            "sources": stats,
        }
    return body

"""What a pipeline stage receives: the image, the output dir, the options and the result so far."""
from __future__ import annotations

import math
import os
import posixpath
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from firmpass.errors import FirmpassError
from firmpass.frameworks.registry import market_ids
from firmpass.model import FileEntry, ScanResult, Text, Warning_


@dataclass
class Limits:
    """Safety bounds for hostile images; every one can be changed from the CLI."""

    max_total_bytes: int = 4 * 1024**3  # everything written under the output dir
    max_file_bytes: int = 1024**3  # one extracted file / decompressed stream
    max_ratio: float = 250.0  # decompressed / compressed size of one stream
    max_depth: int = 12  # nesting of containers
    max_files: int = 250_000  # entries over the whole image
    max_seconds: float = 900.0  # wall time for unpacking


def limits_from(max_size: str | None, max_ratio: float | None, max_depth: int | None,
                max_files: int | None, timeout: float | None, max_file_size: str | None = None) -> Limits:
    """Limits from the command line; a limit of zero or less is a usage error, not 'no limit'."""
    lim = Limits()

    def positive(opt: str, value):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise FirmpassError("err.bad_limit", option=opt, value=str(value))
        return value

    if max_size is not None:
        lim.max_total_bytes = positive("--max-size", parse_size(max_size))
    if max_file_size is not None:
        lim.max_file_bytes = positive("--max-file-size", parse_size(max_file_size, "--max-file-size"))
    if positive("--max-ratio", max_ratio) is not None:
        lim.max_ratio = max_ratio
    if positive("--max-depth", max_depth) is not None:
        lim.max_depth = max_depth
    if positive("--max-files", max_files) is not None:
        lim.max_files = max_files
    if positive("--timeout", timeout) is not None:
        lim.max_seconds = timeout
    return lim


def parse_size(text: str, option: str = "--max-size") -> int:
    t = text.strip().upper().removesuffix("B")
    mult = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    try:
        if t and t[-1] in mult:
            return int(float(t[:-1]) * mult[t[-1]])
        return int(t)
    except (ValueError, OverflowError):
        raise FirmpassError("err.bad_size", option=option, value=repr(text)) from None


@dataclass
class ScanOptions:
    # None: the profile's markets, else every market (assess.engine)
    markets: list[str] | None = field(default_factory=lambda: list(market_ids()))
    profile_path: Path | None = None
    en303645_version: str | None = None  # None: the profile's, else the catalogue's default
    lang: str = "both"  # en | zh | both
    pdf: bool = True
    limits: Limits = field(default_factory=Limits)
    db_path: Path | str | None = None  # vulnerability store (file or database URL); None = the user's data dir
    vex_files: list[Path] = field(default_factory=list)
    decisions_file: Path | None = None  # people's decisions on findings (firmpass.checks.decisions)
    progress: bool = True


class ScanContext:
    def __init__(self, image: Path, out: Path, result: ScanResult, options: ScanOptions | None = None):
        self.image = image
        self.out = out
        self.result = result
        self.options = options or ScanOptions()
        self.profile: dict[str, Any] | None = None  # loaded product profile (assess stage validates it)
        self.assessment: dict[str, Any] | None = None  # assessment.json content
        self.scratch: dict[str, Any] = {}  # stage-to-stage data not serialised (caches)
        # this scan's temporary directory (OUT/.tmp while the scan holds OUT, firmpass.outdir): pass it
        # as dir= to tempfile; never the process-wide temp dir, which other scans in threads share
        self.tmp: Path = out / ".tmp"
        self._by_path: dict[tuple[str, str], FileEntry] | None = None
        # one deadline for the whole scan (--timeout): long-running parsers poll remaining()
        self.started = time.monotonic()
        # the stage checkpoint() stops at the deadline (set by the pipeline for the stages that compute;
        # None elsewhere, so the stages that only write results always run to the end)
        self.bounded_stage: str | None = None

    @property
    def deadline(self) -> float:
        """time.monotonic() value after which work that can be stopped is stopped (--timeout)."""
        return self.started + self.options.limits.max_seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def checkpoint(self) -> None:
        """Raise DeadlineReached once the deadline has passed, while a bounded stage runs.  Called in
        the loops of identify, vulns and checks and on every file read, so --timeout bounds them."""
        if self.bounded_stage is not None and time.monotonic() > self.deadline:
            from firmpass.errors import DeadlineReached

            raise DeadlineReached(self.bounded_stage)

    # ------------------------------------------------------------------ warnings
    def warn(self, stage: str, code: str, message: Text, part: str | None = None) -> None:
        self.result.warnings.append(Warning_(stage=stage, code=code, message=message, part=part))

    # ------------------------------------------------------------------ file access
    def index(self) -> dict[tuple[str, str], FileEntry]:
        if self._by_path is None or len(self._by_path) != len(self.result.files):
            self._by_path = {(f.container, f.path): f for f in self.result.files}
        return self._by_path

    def filesystems(self) -> list[str]:
        """Container ids that hold files, in image order."""
        seen: dict[str, None] = {}
        for f in self.result.files:
            seen.setdefault(f.container, None)
        return list(seen)

    def iter_files(self, types: tuple[str, ...] = ("file",)) -> Iterator[FileEntry]:
        for f in self.result.files:
            if f.type in types:
                yield f

    def lookup(self, path: str, container: str, follow: bool = True, _depth: int = 0) -> FileEntry | None:
        """Find `path` in one filesystem, resolving symlinks inside that filesystem only."""
        idx = self.index()
        path = posixpath.normpath("/" + path.lstrip("/"))
        ent = idx.get((container, path))
        if ent is None:
            # resolve symlinked parent directories (e.g. /var/run -> /tmp)
            parent, name = posixpath.split(path)
            if parent != path and _depth < 40:
                p = self.lookup(parent, container, True, _depth + 1)
                if p is not None and p.path != parent:
                    return self.lookup(posixpath.join(p.path, name), container, follow, _depth + 1)
            return None
        if follow and ent.type == "symlink" and ent.link_target and _depth < 40:
            tgt = ent.link_target
            if not tgt.startswith("/"):
                tgt = posixpath.join(posixpath.dirname(path), tgt)
            return self.lookup(tgt, container, True, _depth + 1)
        return ent

    def disk(self, entry: FileEntry) -> Path | None:
        """Where the content of a regular file was extracted (inside the output dir), or None."""
        if entry.disk_path is None:
            return None
        p = self.out / entry.disk_path
        return p

    def read(self, entry: FileEntry, limit: int | None = 64 * 1024 * 1024) -> bytes:
        self.checkpoint()
        p = self.disk(entry)
        if p is None:
            return b""
        # O_NOFOLLOW: content paths are regular files the unpacker wrote; never follow a link.
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            return fh.read() if limit is None else fh.read(limit)

    def read_text(self, entry: FileEntry, limit: int | None = 4 * 1024 * 1024) -> str:
        return self.read(entry, limit).decode("utf-8", "replace")

"""A small subset of the CJK font for the PDF, made once and kept between runs (issue 15).

Without it WeasyPrint resolves `local("WenQuanYi Micro Hei")` on every render: it reads the whole
5 MB TTC, copies it to a temporary folder, has Fontconfig scan it, and HarfBuzz subsets it again when
the PDF is written.  Here the PDF child first collects the characters its HTML uses, keeps those the
font has, adds a fixed base set (every character of the message catalogue, the terms and the template,
plus ASCII and CJK punctuation) so that most reports need the same subset, and subsets the font with
fontTools (already a WeasyPrint dependency) into a cache folder.  The report's CSS then names that
file first and the system font second, so WeasyPrint itself falls back to the system font if the file
cannot be loaded.

Cache folder: $FIRMPASS_FONT_CACHE (``off`` disables the cache), else $XDG_CACHE_HOME/firmpass/fonts,
else ~/.cache/firmpass/fonts.  A subset is named by a hash of the font file's identity (path, size,
mtime) and of its character set; a hit reads nothing but the small cmap summary beside it.  At most
MAX_FILES subsets are kept (the oldest go).  Any failure (no font, a folder that cannot be written, a
font fontTools cannot read) leaves the HTML as it was: the PDF is made exactly as before.

This module imports nothing of firmpass: the PDF child loads it by path (see pdfjob.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

FAMILY = "WenQuanYi Micro Hei"
LOCAL_SRC = f'src: local("{FAMILY}")'
KNOWN_PATHS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",)
MAX_FILES = 8
ENV = "FIRMPASS_FONT_CACHE"

_HERE = Path(__file__).resolve().parent
_BASE_SOURCES = (_HERE.parent / "i18n" / "messages.yaml", _HERE.parent / "i18n" / "terms.yaml",
                 _HERE / "templates" / "report.html.j2", _HERE / "templates" / "report.css")
_BASE_RANGES = ((0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x3000, 0x303F), (0xFF00, 0xFFEF))

_memo: dict[str, object] = {}  # per process: the base set, the font's identity, its cmap


def cache_dir() -> Path | None:
    env = os.environ.get(ENV)
    if env is not None and env.strip():
        return None if env.strip().lower() == "off" else Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return root / "firmpass" / "fonts"


def base_chars() -> frozenset[str]:
    if "base" not in _memo:
        chars = {chr(c) for lo, hi in _BASE_RANGES for c in range(lo, hi + 1)}
        for p in _BASE_SOURCES:
            try:
                chars.update(p.read_text(encoding="utf-8"))
            except OSError:
                pass
        _memo["base"] = frozenset(chars)
    return _memo["base"]  # type: ignore[return-value]


def find_font() -> tuple[Path, int] | None:
    """The CJK font file and face index, or None."""
    if "font" in _memo:
        return _memo["font"]  # type: ignore[return-value]
    found: tuple[Path, int] | None = None
    for p in KNOWN_PATHS:
        if Path(p).is_file():
            found = (Path(p), 0)
            break
    else:
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}\t%{index}\t%{family}", FAMILY],
                                 capture_output=True, text=True, timeout=10).stdout
            file, index, family = out.split("\t", 2)
            if FAMILY.lower() in family.lower() and Path(file).is_file():
                found = (Path(file), int(index))
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
    _memo["font"] = found
    return found


def _font_id(font: Path, index: int) -> str:
    st = font.stat()
    return hashlib.sha256(f"{font.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{index}".encode()).hexdigest()[:20]


def _cmap(cache: Path, font: Path, index: int, fid: str) -> frozenset[int]:
    """The font's code points, from a small summary in the cache (written on first use)."""
    if _memo.get("cmap_id") == fid:
        return _memo["cmap"]  # type: ignore[return-value]
    summary = cache / f"{fid}.cmap.json"
    cps: frozenset[int] | None = None
    try:
        ranges = json.loads(summary.read_text(encoding="ascii"))
        cps = frozenset(c for lo, hi in ranges for c in range(lo, hi + 1))
    except (OSError, ValueError, TypeError):
        from fontTools.ttLib import TTFont

        with TTFont(font, fontNumber=index, lazy=True) as tt:
            cps = frozenset(tt.getBestCmap())
        ranges, start, prev = [], None, None
        for c in sorted(cps):
            if start is None:
                start = prev = c
            elif c == prev + 1:
                prev = c
            else:
                ranges.append((start, prev))
                start = prev = c
        if start is not None:
            ranges.append((start, prev))
        _write_atomic(cache, summary.name, json.dumps(ranges, separators=(",", ":")).encode("ascii"))
    _memo["cmap_id"], _memo["cmap"] = fid, cps
    return cps


def _write_atomic(folder: Path, name: str, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / name


def _subset(font: Path, index: int, codepoints: set[int]) -> bytes:
    from io import BytesIO

    from fontTools import subset
    from fontTools.ttLib import TTFont

    opts = subset.Options()
    opts.name_IDs = ["*"]         # keep the family name Fontconfig reads
    opts.notdef_outline = True
    opts.glyph_names = False
    opts.hinting = False          # the PDF keeps outlines only; hints are never used
    with TTFont(font, fontNumber=index, lazy=False) as tt:
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=codepoints)
        sub.subset(tt)
        buf = BytesIO()
        tt.save(buf)
    return buf.getvalue()


def _prune(cache: Path, keep: Path) -> None:
    files = sorted((p for p in cache.glob("*.ttf") if p != keep), key=lambda p: p.stat().st_mtime_ns)
    for p in files[:max(0, len(files) + 1 - MAX_FILES)]:
        p.unlink(missing_ok=True)


def subset_for(text: str) -> Path | None:
    """Path of a cached subset covering every character of `text` the CJK font has; None on any failure."""
    cache = cache_dir()
    found = find_font()
    if cache is None or found is None:
        return None
    font, index = found
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    fid = _font_id(font, index)
    cps = _cmap(cache, font, index, fid)
    wanted = {ord(ch) for ch in base_chars().union(text)} & cps
    digest = hashlib.sha256(",".join(map(str, sorted(wanted))).encode()).hexdigest()[:20]
    path = cache / f"{fid}-{digest}.ttf"
    if path.is_file() and path.stat().st_size > 0:
        return path
    _write_atomic(cache, path.name, _subset(font, index, wanted))
    _prune(cache, path)
    return path


def use_subset(html: str) -> tuple[str, Path | None]:
    """The report HTML with its CJK @font-face pointing at a cached subset first (the system font
    stays as the second source), and that subset's path; the HTML unchanged and None on any failure."""
    if LOCAL_SRC not in html:
        return html, None
    try:
        path = subset_for(html)
    except Exception:  # noqa: BLE001 - any failure means today's behaviour, never a lost PDF
        return html, None
    if path is None:
        return html, None
    return html.replace(LOCAL_SRC, f'src: url("{path.as_uri()}"), local("{FAMILY}")', 1), path

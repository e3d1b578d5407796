"""The CJK font subset cache of the PDF (issue 15): made on the first render, reused unchanged on the
next, extended for a character outside the base set, and never the reason a PDF is missing."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from firmpass.model import Text
from firmpass.report import fontcache, render_html, write_report
from firmpass.report.view import Caps

from .conftest import pdftotext

pytestmark = pytest.mark.skipif(fontcache.find_font() is None, reason="fonts-wqy-microhei is not installed")

RARE = "龘"  # in WenQuanYi Micro Hei, in none of firmpass's catalogues or templates


def _report(out: Path, result, assessment, profile) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    write_report(out, result, assessment, profile, "both", pdf=True)
    return out / "report.pdf"


def _state(folder: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.iterdir())}


def test_cache_made_once_then_reused(tmp_path, monkeypatch, result, assessment, profile):
    cache = tmp_path / "cache" / "fonts"
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(cache))
    _report(tmp_path / "a", result, assessment, profile)
    first = _state(cache)
    subsets = [n for n in first if n.endswith(".ttf")]
    assert len(subsets) == 1
    size = (cache / subsets[0]).stat().st_size
    assert 0 < size < Path(fontcache.find_font()[0]).stat().st_size / 10  # a subset, not a copy
    _report(tmp_path / "b", result, assessment, profile)
    assert _state(cache) == first  # nothing rewritten, nothing added
    text_a = pdftotext(tmp_path / "a" / "report.pdf")
    assert "漏洞" in text_a and text_a == pdftotext(tmp_path / "b" / "report.pdf")


def test_same_text_as_without_the_cache(tmp_path, monkeypatch, result, assessment, profile):
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", "off")
    _report(tmp_path / "off", result, assessment, profile)
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(tmp_path / "cache"))
    _report(tmp_path / "on", result, assessment, profile)
    assert list((tmp_path / "cache").glob("*.ttf"))
    fonts = {m: subprocess.run(["pdffonts", str(tmp_path / m / "report.pdf")], capture_output=True, text=True,
                               check=True).stdout for m in ("off", "on")}
    assert "WenQuanYi-Micro-Hei " in fonts["off"] and "+FP-Sans " not in fonts["off"]
    assert "+FP-Sans " in fonts["on"] and "WenQuanYi" not in fonts["on"]  # one CJK face, the subset
    assert pdftotext(tmp_path / "off" / "report.pdf") == pdftotext(tmp_path / "on" / "report.pdf")


def test_character_outside_the_base_set(tmp_path, monkeypatch, result, assessment, profile):
    assert RARE not in fontcache.base_chars()
    cache = tmp_path / "cache"
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(cache))
    _report(tmp_path / "plain", result, assessment, profile)
    base_subset = set(cache.glob("*.ttf"))
    f = result.findings[0]
    result.findings[0] = f.model_copy(update={"title": Text(en=f.title.en, zh=f"{f.title.zh}（{RARE}字）")})
    _report(tmp_path / "rare", result, assessment, profile)
    assert f"（{RARE}字）" in pdftotext(tmp_path / "rare" / "report.pdf")
    extra = set(cache.glob("*.ttf")) - base_subset
    assert len(extra) == 1  # a second subset holding the extra character
    from fontTools.ttLib import TTFont

    with TTFont(extra.pop()) as tt:
        assert ord(RARE) in tt.getBestCmap()


def test_subset_is_what_weasyprint_loads(tmp_path, monkeypatch):
    """In-process: the renderer fetches the cached subset and never the 5 MB system font."""
    from firmpass.report import pdfjob

    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(tmp_path / "cache"))
    fetched: list[str] = []
    real = pdfjob._local_only

    def recording(url, *a, **kw):
        fetched.append(url)
        return real(url, *a, **kw)

    monkeypatch.setattr(pdfjob, "_local_only", recording)
    css = (Path(fontcache.__file__).parent / "templates" / "report.css").read_text(encoding="utf-8")
    html = f"<html><head><style>{css}</style></head><body><p>固件合规 firmpass</p></body></html>"
    assert pdfjob.html_to_pdf(html, tmp_path / "x.pdf") == 1
    subset = next((tmp_path / "cache").glob("*.ttf"))
    assert fetched == [subset.as_uri()]
    assert "固件合规" in pdftotext(tmp_path / "x.pdf")


def test_unwritable_cache_still_gives_the_same_pdf(tmp_path, monkeypatch, result, assessment, profile):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(blocker / "fonts"))
    _report(tmp_path / "a", result, assessment, profile)
    assert (tmp_path / "a" / "report.pdf").stat().st_size > 0
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", "off")
    _report(tmp_path / "b", result, assessment, profile)
    assert pdftotext(tmp_path / "a" / "report.pdf") == pdftotext(tmp_path / "b" / "report.pdf")
    if os.geteuid() != 0:  # root writes anywhere: a read-only folder only stops other users
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(ro / "fonts"))
        _report(tmp_path / "c", result, assessment, profile)
        assert (tmp_path / "c" / "report.pdf").stat().st_size > 0


def test_fallbacks_leave_the_html_alone(tmp_path, monkeypatch, result, assessment, profile):
    html = render_html(result, assessment, profile, caps=Caps.for_pdf())
    assert fontcache.LOCAL_SRC in html
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", "off")
    assert fontcache.use_subset(html) == (html, None)
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(tmp_path / "file") + "/fonts")
    (tmp_path / "file").write_text("x")
    assert fontcache.use_subset(html) == (html, None)
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(tmp_path / "ok"))
    monkeypatch.setitem(fontcache._memo, "font", None)  # no CJK font on this machine
    assert fontcache.use_subset(html) == (html, None)


def test_cache_default_location(monkeypatch, tmp_path):
    monkeypatch.delenv("FIRMPASS_FONT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fontcache.cache_dir() == tmp_path / "firmpass" / "fonts"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fontcache.cache_dir() == tmp_path / "home" / ".cache" / "firmpass" / "fonts"


def test_cache_keeps_at_most_max_files(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("FIRMPASS_FONT_CACHE", str(cache))
    old = []
    for i in range(fontcache.MAX_FILES + 2):  # stale subsets of earlier runs, oldest first
        p = cache / f"old{i:02d}-x.ttf"
        p.write_bytes(b"stale")
        os.utime(p, ns=(10**18 + i, 10**18 + i))
        old.append(p)
    new = fontcache.subset_for("固件")
    left = sorted(cache.glob("*.ttf"))
    assert new in left and len(left) == fontcache.MAX_FILES
    assert [p for p in old if p.exists()] == old[-(fontcache.MAX_FILES - 1):]  # the oldest went

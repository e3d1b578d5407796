"""Feeds are plug-ins (src/firmpass/vulns/feeds/<name>.py): importers.py and `db update` dispatch
through the list and name no feed; every real fixture file is recognised by the feed that lists
its format."""
from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pytest

from firmpass.vulns import feeds, importers

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vulns"


def test_every_feed_module_has_the_plug_in_interface():
    names = set()
    for mod in feeds.modules():
        assert mod.FORMATS and callable(mod.sniff) and callable(mod.ingest), mod.__name__
        assert not names & set(mod.FORMATS), f"{mod.__name__}: a format two feeds claim"
        names |= set(mod.FORMATS)
        if getattr(mod, "UPDATE_URL", None):
            assert mod.UPDATE_URL.startswith("https://") and callable(mod.update) and mod.LABEL
    assert {"nvd", "nvd11", "cve5", "osv", "kev", "epss", "euvd", "curl", "debian-tracker", "openvex"} <= names


def test_db_update_offers_the_feeds_that_can_be_downloaded():
    assert list(feeds.updatable()) == ["nvd", "euvd", "kev", "epss"]


@pytest.mark.parametrize("name, fmt", [
    ("curl_vuln.json", "curl"), ("debian_tracker.json", "debian-tracker"), ("epss.json", "epss"),
    ("kev.json", "kev"), ("nvd_fixture.json.gz", "nvd"), ("openssl_secjson.json", "cve5")])
def test_real_files_sniff_to_their_feed(name, fmt):
    raw = (FIX / name).read_bytes()
    obj = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    assert feeds.sniff(obj) == fmt
    assert fmt in feeds.feed_for(fmt).FORMATS
    assert feeds.shape_error(fmt, obj, None) is None


def test_the_epss_csv_is_recognised_by_its_text():
    assert feeds.sniff_text((FIX / "epss.csv").read_text(encoding="utf-8")) == "epss"
    assert feeds.sniff_text("cve,score\nCVE-2024-1,1\n") is None


def test_look_alikes_are_refused_by_the_feed_before_anything_is_written():
    assert feeds.sniff({"catalogVersion": "x"}) == "kev"
    assert feeds.shape_error("kev", {"catalogVersion": "x"}, None) == "no 'vulnerabilities' list"
    assert feeds.sniff({"something": 1}) is None and feeds.sniff([1, 2]) is None


def test_importers_name_no_feed():
    """The generic importer holds no format name: every one lives in its feed module (the streamed
    NVD feed file, read in batches by the importer itself, is the one exception)."""
    formats = {f for mod in feeds.modules() for f in mod.FORMATS} - {"nvd"}
    tree = ast.parse(Path(importers.__file__).read_text(encoding="utf-8"))
    named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not named & formats, named & formats


def test_an_import_goes_through_the_feeds(tmp_path):
    from firmpass.vulns.store import open_store

    store = open_store(tmp_path / "v.db")
    try:
        rep = importers.import_paths(store, [FIX / "kev.json", FIX / "epss.csv", FIX / "curl_vuln.json"])
        assert rep.files == 3
        assert store.counts()["kev"] > 0 and store.counts()["epss"] > 0
        assert "vendor:curl" in store.sources()
    finally:
        store.close()

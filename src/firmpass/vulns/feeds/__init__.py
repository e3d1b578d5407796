"""Vulnerability data feeds as plug-ins: one module per feed in this package.

A feed module has
  FORMATS                      the format names it reads (shown in `db import` / `db status`)
  sniff(obj) -> str | None     the format of a parsed JSON document when it is this feed's, else None
  sniff_text(text)             optional: the same for a text (CSV) file
  shape_error(fmt, obj, text)  optional: why a document that sniffed as this feed does not have its
                               shape (English), checked before anything is written
  ingest(store, s, fmt, obj, text, origin) -> int
                               parse to records (VulnRecord, or the feed's own rows) and write them in
                               the open session `s`; returns how many were read
  BATCH = True                 optional: one-record files (a cvelistV5 tree, an OSV dump) are
                               collected and ingested 2000 at a time as a list
  UPDATE_URL, LABEL, update(store, url, progress)
                               optional: `firmpass db update` downloads it (`--only` lists these)

FEEDS below is the order in which documents are sniffed (most specific first).  importers.py and
update.py dispatch through it and know no feed by name; adding a feed is its module, its name here,
a small real record in tests/fixtures/vulns/ and a test.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType
from typing import Any

FEEDS = ("nvd11", "vex", "nvd", "kev", "cve5", "curl", "epss", "osv", "euvd", "debian_tracker")


@lru_cache(maxsize=None)
def modules() -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in FEEDS)


def sniff(obj: Any) -> str | None:
    """The format of a parsed JSON document, or None when no feed reads it."""
    for mod in modules():
        fmt = mod.sniff(obj)
        if fmt:
            return fmt
    return None


def sniff_text(text: str) -> str | None:
    for mod in modules():
        fn = getattr(mod, "sniff_text", None)
        if fn is not None and (fmt := fn(text)):
            return fmt
    return None


def feed_for(fmt: str) -> ModuleType:
    for mod in modules():
        if fmt in mod.FORMATS:
            return mod
    raise KeyError(fmt)


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    fn = getattr(feed_for(fmt), "shape_error", None)
    return fn(fmt, obj, text) if fn is not None else None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    return feed_for(fmt).ingest(store, s, fmt, obj, text, origin)


def batched(fmt: str) -> bool:
    return bool(getattr(feed_for(fmt), "BATCH", False))


def updatable() -> dict[str, ModuleType]:
    """Feed name -> module, for the feeds `firmpass db update` can download (in update order)."""
    order = ("nvd", "euvd", "kev", "epss")  # the incremental API feeds first, then the whole-file ones
    mods = {m.__name__.rsplit(".", 1)[-1]: m for m in modules() if getattr(m, "UPDATE_URL", None)}
    return {n: mods[n] for n in sorted(mods, key=lambda n: (order.index(n) if n in order else len(order), n))}

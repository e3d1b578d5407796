"""The legacy NVD JSON 1.1 feeds: re-laid into the API 2.0 shape (vulns/nvd11.py), then read as NVD."""
from __future__ import annotations

from typing import Any

from firmpass.vulns.feeds import nvd
from firmpass.vulns.nvd11 import is_nvd11, to_api20_feed

FORMATS = ("nvd11",)


def sniff(obj: Any) -> str | None:
    return "nvd11" if isinstance(obj, dict) and is_nvd11(obj) else None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    return nvd.ingest(store, s, "nvd", to_api20_feed(obj), text, origin)

"""FIRST EPSS scores: the daily CSV (optionally gzipped) or JSON (API pages, a scores dump)."""
from __future__ import annotations

import csv
import io
import re
from typing import Any


FORMATS = ("epss",)
LABEL = "EPSS"
UPDATE_URL = "https://epss.cyentia.com/epss_scores-current.csv.gz"


def sniff(obj: Any) -> str | None:
    if isinstance(obj, dict) and (isinstance(obj.get("scores"), dict)
                                  or (isinstance(obj.get("data"), list) and obj["data"] and "epss" in obj["data"][0])):
        return "epss"
    return None


def sniff_text(text: str) -> str | None:
    return "epss" if "epss" in text[:300].lower() else None


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    if obj is not None and isinstance(obj.get("data"), list) and any(not isinstance(r, dict) for r in obj["data"]):
        return "a 'data' row is not an object"
    return None


def ingest(store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    from sqlalchemy import func, select

    from firmpass.vulns.store import EpssRow

    rows, date = _epss_rows(obj, text)
    rows = list({r["cve"]: r for r in rows}.values())
    store.upsert_epss(s, rows)
    store.touch_source(s, "epss", "epss", s.scalar(select(func.count()).select_from(EpssRow)), origin, date)
    return len(rows)


def update(store, url: str, progress=None) -> int:
    from firmpass.vulns.update import update_file

    return update_file(store, url, "epss")


def _epss_rows(obj: Any, text: str | None) -> tuple[list[dict], str | None]:
    rows, date = [], None
    if text is not None:  # CSV: '#model_version:v2023.03.01,score_date:2024-01-01T00:00:00+0000' then cve,epss,percentile
        lines = text.splitlines()
        if lines and lines[0].startswith("#"):
            m = re.search(r"score_date:([0-9-]{10})", lines[0])
            date = m.group(1) if m else None
            lines = lines[1:]
        for r in csv.DictReader(io.StringIO("\n".join(lines))):
            try:
                rows.append({"cve": r["cve"], "score": float(r["epss"]), "percentile": float(r.get("percentile") or 0),
                             "date": date})
            except (KeyError, ValueError):
                continue
        return rows, date
    if isinstance(obj.get("scores"), dict):
        date = ((obj.get("_meta") or {}).get("commit_date") or "")[:10] or None
        for cve, s in obj["scores"].items():
            rows.append({"cve": cve, "score": float(s.get("epss", 0)), "percentile": float(s.get("percentile", 0)),
                         "date": s.get("date") or date})
    else:
        for s in obj.get("data") or []:
            rows.append({"cve": s["cve"], "score": float(s["epss"]), "percentile": float(s.get("percentile", 0)),
                         "date": s.get("date")})
            date = date or s.get("date")
    return rows, date

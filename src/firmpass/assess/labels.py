"""Bilingual display labels of the five verdicts and the provision statuses (for the report)."""
from __future__ import annotations

from firmpass.frameworks import registry
from firmpass.i18n import msg
from firmpass.model import Text

VERDICTS = ("met", "not_met", "partly_met", "needs_evidence", "not_applicable")
STATUSES = ("mandatory", "recommended", "conditional", "informational")


def verdict_label(verdict: str) -> Text:
    return msg(f"assess.verdict.{verdict}")


def status_label(status: str) -> Text:
    return msg(f"assess.status.{status}")


def market_label(market: str) -> Text:
    return registry.market_label(market)


VERDICT_LABELS: dict[str, Text] = {v: verdict_label(v) for v in VERDICTS}
STATUS_LABELS: dict[str, Text] = {s: status_label(s) for s in STATUSES}
MARKET_LABELS: dict[str, Text] = {m: market_label(m) for m in registry.market_ids()}

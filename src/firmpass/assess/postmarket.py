"""Post-market dates: CRA Article 14 reporting deadlines and the CRA Art. 13(8) support-period check.

Article 14 (applies from 2026-09-11):
  actively exploited vulnerability: early warning within 24 h of becoming aware (14(2)(a)), notification
  within 72 h (14(2)(b)), final report no later than 14 days after a corrective or mitigating measure is
  available (14(2)(c));
  severe incident: early warning 24 h (14(4)(a)), notification 72 h (14(4)(b)), final report within one
  month after the incident notification (14(4)(c)).
'One month' is computed as the same day of the next calendar month (clamped to the month's last day).

Awareness proxy: for vulnerabilities in the scan that are in CISA's KEV catalogue, the KEV
`date_added` is used as a *proxy* for the date the maker became aware that the vulnerability is
actively exploited.  It is not the maker's real awareness date (that can only be later, when the
maker learns its product is affected): the dates computed from it are the earliest deadlines that
could apply, shown so the maker sees what is already overdue if they knew on that day.
"""
from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from firmpass.i18n import msg
from firmpass.model import ScanResult
from firmpass.profile import get

ART14_APPLIES = dt.datetime(2026, 9, 11, tzinfo=dt.timezone.utc)


def parse_when(value: Any) -> dt.datetime:
    """A date or date-time (ISO 8601) as an aware UTC datetime; a bare date means 00:00 UTC."""
    if isinstance(value, dt.datetime):
        d = value
    elif isinstance(value, dt.date):
        d = dt.datetime(value.year, value.month, value.day)
    else:
        s = str(value).strip().replace(" ", "T")
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        d = dt.datetime.fromisoformat(s) if "T" in s else dt.datetime.combine(dt.date.fromisoformat(s), dt.time())
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d.astimezone(dt.timezone.utc)


def add_month(d: dt.datetime) -> dt.datetime:
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return d.replace(year=y, month=m, day=min(d.day, calendar.monthrange(y, m)[1]))


def _iso(d: dt.datetime | None) -> str | None:
    return d.isoformat(timespec="minutes") if d else None


def vulnerability_deadlines(aware: Any, corrective_measure_available: Any = None) -> dict[str, str | None]:
    """CRA Art. 14(2) deadlines for an actively exploited vulnerability."""
    a = parse_when(aware)
    fix = parse_when(corrective_measure_available) if corrective_measure_available else None
    return {"aware": _iso(a), "early_warning": _iso(a + dt.timedelta(hours=24)),
            "notification": _iso(a + dt.timedelta(hours=72)),
            "final_report": _iso(fix + dt.timedelta(days=14)) if fix else None}


def incident_deadlines_from(aware: Any, notification_sent: Any = None) -> dict[str, str | None]:
    """CRA Art. 14(4) deadlines for a severe incident; the final report is due one month after the
    72-h notification (the actual sending time when given, else the 72-h deadline)."""
    a = parse_when(aware)
    notif = a + dt.timedelta(hours=72)
    base = parse_when(notification_sent) if notification_sent else notif
    return {"aware": _iso(a), "early_warning": _iso(a + dt.timedelta(hours=24)), "notification": _iso(notif),
            "final_report": _iso(add_month(base))}


def incident_deadlines(inc: dict[str, Any]) -> dict[str, str | None]:
    if inc.get("kind") == "incident":
        return incident_deadlines_from(inc["aware"], inc.get("notification_sent"))
    return vulnerability_deadlines(inc["aware"], inc.get("corrective_measure_available"))


def _status(deadlines: dict[str, str | None], now: dt.datetime) -> dict[str, str]:
    out = {}
    for k in ("early_warning", "notification", "final_report"):
        v = deadlines.get(k)
        out[k] = "pending" if v is None else ("passed" if parse_when(v) < now else "open")
    return out


def article14(result: ScanResult, profile: dict | None, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.timezone.utc)
    rows = []
    for inc in get(profile, "incidents") or []:
        d = incident_deadlines(inc)
        rows.append({"source": "profile", "kind": inc["kind"], "id": inc.get("id"), "deadlines": d,
                     "status": _status(d, now), "proxy": False})
    seen = set()
    for v in result.vulnerabilities:  # actively exploited: CISA KEV or ENISA EUVD, the earliest date
        if not v.is_exploited or v.vex.state not in ("affected", "under_investigation") or v.id in seen:
            continue
        since, src = v.exploited_since()
        if not since:
            continue
        try:
            d = vulnerability_deadlines(since)
        except ValueError:  # a date the source wrote in a form we do not read: no deadline to compute
            continue
        seen.add(v.id)
        rows.append({"source": "kev" if src == "cisa-kev" else src, "kind": "vulnerability", "id": v.id,
                     "component": v.component_name, "deadlines": d, "status": _status(d, now), "proxy": True,
                     "exploited": v.exploitation()})
    return {
        "applies_from": ART14_APPLIES.date().isoformat(),
        "in_force": now >= ART14_APPLIES,
        "rules": {"vulnerability": {"early_warning": "24h", "notification": "72h", "final_report": "14 days after a corrective measure is available"},
                  "incident": {"early_warning": "24h", "notification": "72h", "final_report": "1 month after the notification"}},
        "proxy_note": msg("assess.art14.proxy_note").model_dump(),
        "items": rows,
    }


def support_period_check(profile: dict | None) -> dict[str, Any]:
    """CRA Art. 13(8): support period at least 5 years, or the expected time of use when that is shorter."""
    start, end = get(profile, "support.placed_on_market"), get(profile, "support.end_date")
    expected = get(profile, "support.expected_use_years")
    if not end:
        return {"status": "unknown", "missing": "support.end_date", "text": msg("assess.support.unknown").model_dump()}
    if not start:
        return {"status": "unknown", "missing": "support.placed_on_market",
                "text": msg("assess.support.no_start", end=str(end)).model_dump()}
    s, e = parse_when(start), parse_when(end)
    years = round((e - s).days / 365.25, 2)
    required = 5.0 if expected is None else min(5.0, float(expected))
    basis = "five_years" if expected is None or expected >= 5 else "expected_use"
    ok = years + 1e-9 >= required - 0.01  # a day's rounding tolerance
    key = "assess.support.ok" if ok else "assess.support.too_short"
    return {"status": "ok" if ok else "too_short", "years": years, "required_years": required, "basis": basis,
            "placed_on_market": str(start), "end_date": str(end), "expected_use_years": expected,
            "text": msg(key, years=years, required=required).model_dump()}

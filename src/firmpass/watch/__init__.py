"""Post-market watch: match saved scans against the vulnerability store as it is now, tell what is new
since the last look, and run the CRA Article 14 clocks for vulnerabilities that became exploited.

``watch_scans(outs, store, now)`` reads each saved scan (OUT/findings.json: its components, the
vulnerabilities it had, the VEX statements made for it; OUT/assessment.json: the profile it was
assessed with), matches every distinct component once against the store (a portfolio of many
firmware versions shares most of its components), and writes ``OUT/watch.json``:

- ``new``: open vulnerabilities (affected / under investigation) that the previous watch of this OUT
  (or, the first time, the scan itself) did not have, each with ``first_seen`` kept across runs;
- ``resolved``: open before, not open now (a record withdrawn, a VEX statement that rules it out);
- ``newly_exploited``: open vulnerabilities whose evidence of exploitation (CISA KEV, ENISA EUVD)
  firmpass sees for the first time;
- ``art14``: one entry per actively exploited open vulnerability.  The clock starts when firmpass
  first saw the exploitation evidence for this product (``exploited_seen``), or at the profile's
  recorded ``aware`` time when that is earlier; deadlines per Art. 14(2) (firmpass.assess.postmarket).

VEX statements made for the product are honoured: the store's triage table (applied by the matcher)
and every statement the scan itself recorded from a user's VEX file (``vex.source`` other than
"firmpass").  Nothing here goes online; `firmpass db update` is the step that does.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmpass.assess.postmarket import parse_when, vulnerability_deadlines
from firmpass.errors import UnusableInput
from firmpass.i18n import msg
from firmpass.model import Component, ScanResult, Text, Vulnerability, VexStatement

WATCH_FILE = "watch.json"
OPEN_STATES = ("affected", "under_investigation")
MAX_JSON = 512 * 1024 * 1024
# how often each source publishes (days): a store older than twice that misses what the source knows
SOURCE_INTERVAL_DAYS = {"nvd": 1, "kev": 1, "epss": 1, "euvd": 1, "osv": 1, "debian": 1, "curl": 30, "openssl": 30}


def iso(d: dt.datetime) -> str:
    return d.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class SavedScan:
    """What the watch needs of one saved scan directory."""

    out: Path
    result: ScanResult
    profile: dict[str, Any] | None
    profile_path: str | None
    previous: dict[str, Any] | None  # the last watch.json of this OUT
    notes: list[Text] = field(default_factory=list)

    @property
    def product(self) -> dict[str, str]:
        prod = (self.profile or {}).get("product") or {}
        return {"name": str(prod.get("name") or self.result.image.name),
                "version": str(prod.get("firmware_version") or self.result.image.sha256[:12]),
                "model": str(prod.get("model") or "")}


def load_scan(out: Path) -> SavedScan:
    """A saved scan: findings.json (without its per-file list, which the watch does not need), the
    profile recorded in assessment.json when it can still be read, the previous watch.json."""
    from firmpass.present.load import recorded_profile

    p = out / "findings.json"
    try:
        if not p.is_file() or p.stat().st_size > MAX_JSON:
            raise UnusableInput("err.bad_scan_dir", path=str(out))
        raw = json.loads(p.read_bytes())
        raw["files"] = []  # thousands of entries the watch never reads: not validated
        result = ScanResult.model_validate(raw)
    except UnusableInput:
        raise
    except Exception:  # noqa: BLE001 - any parse or validation error: not a usable scan directory
        raise UnusableInput("err.bad_scan_dir", path=str(out)) from None
    notes: list[Text] = []
    profile = ppath = None
    pp = recorded_profile(out, notes)
    # that the scan's own profile is used is the normal case here: only a changed or vanished one is said
    notes = [n for n in notes if pp is None or n != msg("assess.info.profile_reused", path=str(pp))]
    if pp is not None:
        from firmpass.profile import load_profile

        try:
            profile, ppath = load_profile(pp), str(pp)
        except Exception:  # noqa: BLE001 - a profile that no longer validates: watch without it, say so
            notes.append(msg("watch.warn.profile_unreadable", path=str(pp)))
    previous = None
    wp = out / WATCH_FILE
    if wp.is_file():
        try:
            previous = json.loads(wp.read_text(encoding="utf-8"))
            if not isinstance(previous, dict):
                previous = None
        except (OSError, ValueError):
            previous = None
        if previous is None:
            notes.append(msg("watch.warn.previous_unreadable", path=str(wp)))
    return SavedScan(out, result, profile, ppath, previous, notes)


# ------------------------------------------------------------------------------------------ matching
class Hit:
    """One vulnerability of one scan's component: the record (a Vulnerability matched once for every
    scan holding the same component, shared, never changed) seen through this scan's component and
    this scan's own VEX statement.  A portfolio has hundreds of thousands of these: no copies."""

    __slots__ = ("v", "f", "id", "component", "component_name", "component_version", "vex")

    def __init__(self, v: Vulnerability, f: dict[str, Any], c: Component):
        self.v, self.f, self.id = v, f, v.id
        self.component, self.component_name, self.component_version = c.bom_ref, c.name, c.version
        self.vex = v.vex

    def __getattr__(self, name: str) -> Any:  # id, severity, epss, cvss, exploitation(), is_exploited ...
        return getattr(self.v, name)

    def materialize(self) -> Vulnerability:
        return self.v.model_copy(update={"component": self.component, "component_name": self.component_name,
                                         "component_version": self.component_version, "vex": self.vex})


def _facts(v: Vulnerability) -> dict[str, Any]:
    """What the watch reads of a record, computed once per record (not once per scan holding it)."""
    expl: dict[str, Any] = {"kev": None, "euvd": None}
    for e in v.exploitation():
        if e.get("source") == "cisa-kev":
            expl["kev"] = e.get("since")
        elif e.get("source") == "euvd":
            expl["euvd"] = e.get("since")
    return {"severity": v.severity, "epss": (v.epss or {}).get("score"), "exploited": expl,
            "is_exploited": v.is_exploited}


def _comp_key(c: Component, extra: dict[str, Any]) -> str:
    """Components that match alike: same identity and properties; the kernel and BusyBox also carry
    the scan's kernel configuration / applet list, which the matcher's rule-outs read."""
    ident: dict[str, Any] = {"n": c.name, "v": c.version, "cpe": c.cpe, "purl": c.purl, "p": c.properties}
    low = (c.name or "").lower()
    if "linux" in low or "kernel" in low:
        ident["kernel"] = extra.get("kernel")
    if "busybox" in low:
        ident["busybox"] = extra.get("busybox")
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def match_all(store, scans: list[SavedScan]) -> list[list[Hit]]:
    """Every scan's vulnerabilities as the store has them now, each distinct component matched once."""
    from firmpass.vulns import match_components

    groups: dict[str, tuple[Component, dict[str, Any]]] = {}
    per_scan: list[list[tuple[Component, str]]] = []
    for sc in scans:
        rows = []
        for c in sc.result.components:
            k = _comp_key(c, sc.result.extra)
            if k not in groups:
                groups[k] = (c.model_copy(update={"bom_ref": k}), sc.result.extra)
            rows.append((c, k))
        per_scan.append(rows)
    # components whose rule-outs read the scan's facts are matched with those facts; the rest together
    by_extra: dict[str, tuple[dict[str, Any], list[Component]]] = {}
    for k, (c, extra) in groups.items():
        low = (c.name or "").lower()
        needs = ("linux" in low or "kernel" in low or "busybox" in low)
        ek = hashlib.sha256(json.dumps(extra if needs else {}, sort_keys=True, default=str).encode()).hexdigest()
        by_extra.setdefault(ek, (extra if needs else {}, []))[1].append(c)
    found: dict[str, list[tuple[Vulnerability, dict[str, Any]]]] = {}
    for extra, comps in by_extra.values():
        for v in match_components(store, comps, extra):
            found.setdefault(v.component, []).append((v, _facts(v)))
    out = []
    for sc, rows in zip(scans, per_scan):
        vs = []
        for c, k in rows:
            for v, f in found.get(k, []):
                vs.append(Hit(v, f, c))
        _honour_vex(sc.result, vs)
        out.append(vs)
    return out


def _honour_vex(result: ScanResult, vs: list[Hit]) -> None:
    """A statement the user made for this product (a VEX file given to the scan) still holds."""
    made = {(v.id, v.component): v.vex for v in result.vulnerabilities if v.vex.source != "firmpass"}
    if not made:
        return
    for h in vs:
        st = made.get((h.id, h.component))
        if st is not None and h.vex.source == "firmpass":
            h.vex = VexStatement(**st.model_dump())


# ------------------------------------------------------------------------------------------ one OUT
def _key(v: Vulnerability) -> str:
    return f"{v.id}@{v.component}"


def _row(h: Hit, hist: dict[str, Any]) -> dict[str, Any]:
    f = h.f
    return {"id": h.id, "component": h.component_name, "component_ref": h.component, "version": h.component_version,
            "severity": f["severity"], "epss": f["epss"], "exploited": dict(f["exploited"]),
            "vex": h.vex.state, "first_seen": hist.get("first_seen")}


def _row_order(r: dict[str, Any]):
    """Exploited first, then EPSS, then severity (as the scan orders vulnerabilities)."""
    from firmpass.model import SEVERITY_ORDER

    return (not (r["exploited"]["kev"] or r["exploited"]["euvd"]), -(r["epss"] or 0.0),
            SEVERITY_ORDER.get(r["severity"] or "", 9), r["id"], r["component"])


def _incident_for(profile: dict[str, Any] | None, vid: str) -> dict[str, Any] | None:
    for inc in (profile or {}).get("incidents") or []:
        if isinstance(inc, dict) and inc.get("kind") == "vulnerability" and inc.get("id") == vid:
            return inc
    return None


def art14_entry(vid: str, rows: list[dict[str, Any]], seen: str, profile: dict[str, Any] | None,
                now: dt.datetime) -> dict[str, Any]:
    """One Art. 14(2) clock: aware = when firmpass first saw exploitation evidence for this product, or
    the profile's earlier recorded awareness; status from what the profile says was already sent."""
    inc = _incident_for(profile, vid) or {}
    aware = parse_when(seen)
    basis = "firmpass_first_seen"
    if inc.get("aware") and parse_when(inc["aware"]) < aware:
        aware, basis = parse_when(inc["aware"]), "profile"
    d = vulnerability_deadlines(aware, inc.get("corrective_measure_available"))
    if inc.get("final_report_sent"):
        status, due = "closed", None
    elif inc.get("corrective_measure_available"):
        status, due = "final_report_due", d["final_report"]
    elif inc.get("notification_sent"):
        status, due = "awaiting_corrective_measure", None
    elif inc.get("early_warning_sent"):
        status, due = "notification_due", d["notification"]
    else:
        status, due = "early_warning_due", d["early_warning"]
    overdue = bool(due and parse_when(due) < now)
    return {"id": vid, "components": sorted({r["component"] for r in rows}), "aware": d["aware"],
            "aware_basis": basis, "early_warning_due": d["early_warning"], "notification_due": d["notification"],
            "final_report_due": d["final_report"], "status": status, "next_deadline": due, "overdue": overdue,
            "exploited": rows[0]["exploited"], "severity": rows[0]["severity"],
            "corrective_measure_available": inc.get("corrective_measure_available")}


def _history(raw: Any) -> dict[str, dict[str, Any]]:
    """The previous watch's history, keeping only entries of the shape this module writes (a watch.json
    edited by hand or damaged must not stop the watch or start a clock at a nonsense time)."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(raw, dict):
        return out
    for k, v in raw.items():
        if not (isinstance(k, str) and "@" in k and isinstance(v, dict)):
            continue
        h: dict[str, Any] = {"open": v.get("open") is True}
        for f in ("first_seen", "exploited_seen", "resolved"):
            x = v.get(f)
            if isinstance(x, str):
                try:
                    parse_when(x)
                except ValueError:
                    continue
                h[f] = x
        out[k] = h
    return out


def _baseline(sc: SavedScan, hist: dict[str, dict[str, Any]], scanned: Any) -> tuple[set[str], set[str]]:
    """The open and the exploited vulnerability keys of the last watch; on the first watch those of the
    scan itself, whose open vulnerabilities then enter HIST as first seen at scan time."""
    if sc.previous is not None:
        return ({k for k, h in hist.items() if h.get("open")},
                {k for k, h in hist.items() if h.get("open") and h.get("exploited_seen")})
    before = {_key(v) for v in sc.result.vulnerabilities if v.vex.state in OPEN_STATES}
    before_expl = {_key(v) for v in sc.result.vulnerabilities if v.vex.state in OPEN_STATES and v.is_exploited}
    for v in sc.result.vulnerabilities:
        if v.vex.state in OPEN_STATES:
            h = hist.setdefault(_key(v), {"first_seen": scanned})
            if v.is_exploited:
                h.setdefault("exploited_seen", scanned)
    return before, before_expl


def _resolve(gone: set[str], cur_keys: set[str], vulns: list[Hit], hist: dict[str, dict[str, Any]],
             nowiso: str) -> list[dict[str, Any]]:
    """Close in HIST every key not open now; the rows of those open at the last watch (GONE), with why."""
    resolved = []
    states = {_key(v): v.vex.state for v in vulns if _key(v) in gone} if gone else {}
    for k in sorted(gone):
        h = hist.get(k, {})
        h["open"] = False
        h["resolved"] = nowiso
        vid, _, comp = k.partition("@")
        why = states.get(k, "no_longer_matched")
        resolved.append({"id": vid, "component_ref": comp, "first_seen": h.get("first_seen"), "why": why})
    for k, h in hist.items():
        if k not in cur_keys:
            h["open"] = False
    return resolved


def _art14(exploited_rows: dict[str, list[dict[str, Any]]], hist: dict[str, dict[str, Any]],
           profile: dict[str, Any] | None, now: dt.datetime) -> list[dict[str, Any]]:
    """One CRA Art. 14 clock per exploited vulnerability (from its first exploited sighting), open ones first."""
    art14 = []
    for vid, rows in exploited_rows.items():
        seen = min(hist[f"{vid}@{r['component_ref']}"]["exploited_seen"] for r in rows)
        art14.append(art14_entry(vid, rows, seen, profile, now))
    art14.sort(key=lambda a: (a["status"] == "closed", a["next_deadline"] or "9999"))
    return art14


def watch_one(sc: SavedScan, vulns: list[Hit], now: dt.datetime, store_info: dict[str, Any]) -> dict[str, Any]:
    """The watch.json of one saved scan (not yet written)."""
    scanned = sc.result.tool.finished or sc.result.tool.started
    prev = sc.previous or {}
    hist = _history(prev.get("history"))
    before, before_expl = _baseline(sc, hist, scanned)
    nowiso = iso(now)
    current = [v for v in vulns if v.vex.state in OPEN_STATES]
    cur_keys = set()
    new, newly_exploited, exploited_rows = [], [], {}
    for v in current:
        k = _key(v)
        cur_keys.add(k)
        h = hist.setdefault(k, {})
        h.setdefault("first_seen", nowiso)
        h["open"] = True
        exploited = v.f["is_exploited"]
        if exploited:
            h.setdefault("exploited_seen", nowiso)
        row = _row(v, h)
        if k not in before:
            new.append(row)
        if exploited:
            exploited_rows.setdefault(v.id, []).append(row)
            if k not in before_expl:
                newly_exploited.append(row)
    resolved = _resolve(before - cur_keys, cur_keys, vulns, hist, nowiso)
    new.sort(key=_row_order)
    newly_exploited.sort(key=_row_order)
    art14 = _art14(exploited_rows, hist, sc.profile, now)
    return {
        "tool": "firmpass", "checked": nowiso, "scan": {"out": str(sc.out), "image": sc.result.image.name,
                                                         "sha256": sc.result.image.sha256, "scanned": scanned},
        "product": sc.product, "profile": sc.profile_path, "store": store_info,
        "counts": {"open": len(current), "new": len(new), "resolved": len(resolved),
                   "exploited": len(exploited_rows), "newly_exploited": len({r["id"] for r in newly_exploited}),
                   "art14_open": sum(1 for a in art14 if a["status"] != "closed"),
                   "art14_overdue": sum(1 for a in art14 if a["overdue"])},
        "new": new, "newly_exploited": newly_exploited, "resolved": resolved, "art14": art14,
        "notes": [n.model_dump() for n in sc.notes],
        "history": hist,
    }


# ------------------------------------------------------------------------------------------ the store
def store_info(store, now: dt.datetime) -> dict[str, Any]:
    """Each source's own data date and import time, and a bilingual note for a source older than twice
    its publishing interval (the store then misses what the source already knows)."""
    info: dict[str, Any] = {"sources": {}, "stale": []}
    for name, s in store.sources().items():
        info["sources"][name] = {"records": s.get("records"), "last_update": s.get("last_update"),
                                 "data_date": s.get("data_date")}
        when = s.get("data_date") or s.get("last_update")
        interval = SOURCE_INTERVAL_DAYS.get(name)
        if not when or interval is None:
            continue
        try:
            age = (now - parse_when(str(when)[:19])).days
        except ValueError:
            continue
        if age > 2 * interval:
            info["stale"].append({"source": name, "age_days": age,
                                  "text": msg("watch.warn.stale_source", source=name, days=age,
                                              interval=interval).model_dump()})
    return info


def watch_scans(outs: list[Path], store, now: dt.datetime | None = None, write: bool = True,
                drafts: bool = True) -> list[dict[str, Any]]:
    """Watch every saved scan in `outs`; writes OUT/watch.json (and the Art. 14 drafts and CSAF
    advisories) for each, returns the watch documents in the same order."""
    return watch_loaded([load_scan(o) for o in outs], store, now, write, drafts)


def watch_loaded(scans: list[SavedScan], store, now: dt.datetime | None = None, write: bool = True,
                 drafts: bool = True) -> list[dict[str, Any]]:
    from firmpass.watch.drafts import write_drafts

    from firmpass.vulns import _gc_paused

    now = now or dt.datetime.now(dt.timezone.utc)
    sinfo = store_info(store, now)
    with _gc_paused():  # hundreds of thousands of small acyclic objects (see firmpass.vulns._gc_paused)
        results = match_all(store, scans)
    docs = []
    for sc, vulns in zip(scans, results):
        doc = watch_one(sc, vulns, now, sinfo)
        if write:
            if drafts:
                doc["drafts"] = write_drafts(sc, vulns, doc, now)
            tmp = sc.out / (WATCH_FILE + ".tmp")
            # compact: a portfolio writes hundreds of these (json's C encoder runs only without indent)
            tmp.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
            tmp.replace(sc.out / WATCH_FILE)
        docs.append(doc)
    return docs


def fails(doc: dict[str, Any], fail_on: str | None) -> bool:
    """--fail-on: exploited (a newly exploited vulnerability), critical or high (a new one at least that severe)."""
    if not fail_on:
        return False
    if fail_on == "exploited":
        return bool(doc["newly_exploited"])
    order = ["critical", "high"] if fail_on == "high" else ["critical"]
    return any(r.get("severity") in order for r in doc["new"])

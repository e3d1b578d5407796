"""vulns stage: match the identified components against the local vulnerability store.

Fills ctx.result.vulnerabilities (model.Vulnerability, each with why it matched in `match` and a
VEX statement) and ctx.result.extra["vuln_db"].  Never touches the network.  With an empty or
missing store: one bilingual warning saying how to fill it, and the scan goes on.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from firmpass.context import ScanContext
from firmpass.errors import DeadlineReached
from firmpass.i18n import msg
from firmpass.model import SEVERITY_ORDER, Component, CvssScore, Text, Vulnerability, VexStatement
from firmpass.vulns.cvssutil import severity_from_score

if TYPE_CHECKING:
    from firmpass.vulns.store import Store

_STORE_NAMES = ("Store", "db_errors", "display_db", "open_store", "resolve_db_path")


def __getattr__(name: str):
    """The store's names, still importable from here; SQLAlchemy loads when a store is used, not
    when `firmpass --help` imports the command modules."""
    if name in _STORE_NAMES:
        from firmpass.vulns import store

        return getattr(store, name)
    raise AttributeError(name)

STAGE = "vulns"
_VER_ORDER = {"4.0": 4, "3.1": 3, "3.0": 2, "2.0": 1}


def db_summary(store: Store | None, path) -> dict[str, Any]:
    from firmpass.vulns.store import display_db

    if store is None:
        return {"path": display_db(path), "sources": {}, "counts": {}, "empty": True}
    return {"path": display_db(path), "sources": {k: {"records": v["records"], "last_update": v["last_update"],
                                               "data_date": v["data_date"]} for k, v in store.sources().items()},
            "counts": store.counts(), "empty": store.is_empty()}


def best_score(cvss: list[CvssScore]) -> CvssScore | None:
    if not cvss:
        return None
    return max(cvss, key=lambda s: (_VER_ORDER.get(s.version, 0), s.source == "nvd@nist.gov", s.base_score))


def sort_key(v: Vulnerability):
    """Open before ruled out; exploited (CISA KEV or ENISA EUVD) first; then EPSS; then severity
    (from CVSS, or the vendor's own rating when there is no CVSS: critical > high > medium > low,
    unrated last) and within a severity the CVSS base score."""
    b = best_score(v.cvss)
    return (v.vex.state in ("not_affected", "fixed"), not v.is_exploited, -((v.epss or {}).get("score") or 0.0),
            SEVERITY_ORDER.get(v.severity or "", len(SEVERITY_ORDER)), -(b.base_score if b else 0.0), v.id, v.component)


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while a match batch is built.

    A batch allocates tens of thousands of small acyclic objects (rows, dicts, models); each
    allocation burst triggers collections that walk the whole long-lived heap of the scan (file
    entries, components), which measured as 30-50 % of the match time.  Reference counting still
    frees everything; the collector is re-enabled (if it was on) when the batch is done.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def match_components(store: Store, components: list[Component], extra: dict[str, Any] | None = None,
                     triage_files: list[dict] | None = None, checkpoint=None) -> list[Vulnerability]:
    """The library entry point (the stage and the benchmark use it).  `checkpoint` (the scan's
    ScanContext.checkpoint) is called between matches; when it raises DeadlineReached the matches made
    so far ride on the exception (`partial`)."""
    with _gc_paused():
        return _match_components(store, components, extra, triage_files, checkpoint or (lambda: None))


def _match_components(store: Store, components: list[Component], extra: dict[str, Any] | None,
                      triage_files: list[dict] | None, checkpoint) -> list[Vulnerability]:
    from firmpass.vulns import ruleout
    from firmpass.vulns.matcher import Matcher
    from firmpass.vulns.vex import product_keys

    extra = extra or {}
    m = Matcher(store, components)
    out: list[Vulnerability] = []
    with store.session() as s:
        checkpoint()
        verdicts = m.verdicts(s)
        checkpoint()
        ids = {v["vuln_id"] for v in verdicts}
        vrows = store.vulns(s, ids)  # with KEV and EPSS
        missing = ids - vrows.keys()  # an applicability row without its record: KEV/EPSS still looked up
        kev, epss, expl = _facts_without_record(store, s, missing)
        comp_keys = {c.bom_ref: product_keys(c) for c in components}
        triage = store.triage(s, [k for ks in comp_keys.values() for k in ks])
        fixes_cache: dict[tuple[str, str], dict] = {}
        static: dict[str, dict[str, Any]] = {}  # per CVE, shared by every component it matches
        for v in verdicts:
            try:
                checkpoint()
            except DeadlineReached as e:
                e.partial = sorted(out, key=sort_key)
                raise
            ck = v["comp"]
            c: Component = ck.comp
            vid = v["vuln_id"]
            st = static.get(vid)
            if st is None:
                row = vrows.get(vid)
                st = static[vid] = _vuln_fields(vid, row, row.kev if row else kev.get(vid),
                                                row.epss if row else epss.get(vid),
                                                row.exploited if row else expl.get(vid))
            vul = Vulnerability(component=c.bom_ref, component_name=c.name, component_version=c.version,
                                match=v["match"], **st)
            if not v["affected"]:
                vul.vex = _vendor_not_affected(v["match"])
            else:
                _auto_rule_out(vul, c, ck, extra, store, s, fixes_cache, ruleout)
            # a user's recorded triage wins over automatic decisions (files given at scan time first)
            _apply_user_triage(vul, comp_keys[c.bom_ref], triage_files or [], triage)
            out.append(vul)
    out.sort(key=sort_key)
    return out


def _facts_without_record(store: Store, s: Any, missing: set[str]) -> tuple[dict, dict, dict]:
    """KEV, EPSS and exploitation of the matched ids whose vulnerability record is not in the store."""
    if not missing:
        return {}, {}, {}
    return ({k: r._asdict() for k, r in store.kev(s, missing).items()},
            {k: r._asdict() for k, r in store.epss(s, missing).items()},
            store.exploited(s, missing))


def _vendor_not_affected(match: dict[str, Any]) -> VexStatement:
    """not_affected: the vendor's own advisory (the authority) leaves out the version NVD's criteria include."""
    vr = "; ".join(match.get("vendor_ranges", []))
    return VexStatement(state="not_affected", justification="code_not_present", detail=Text(
        en=f"the vendor's advisory is the authority and does not list version {match['version']} "
           f"({vr}); NVD criteria {match['criteria']} would include it",
        zh=f"以厂商公告为准：其受影响范围（{vr}）不含版本 {match['version']}；"
           f"NVD 条件 {match['criteria']} 会将其包括在内"))


def _apply_user_triage(vul: Vulnerability, keys: list[str], triage_files: list[dict], triage: dict) -> None:
    """The user's decision on VUL for a component with product KEYS: from a --vex file given now
    first, else recorded in the store."""
    for t in triage_files:
        if t["vuln_id"] in (vul.id, *vul.aliases) and t["product"] in keys:
            _apply_triage(vul, t["state"], t.get("justification"), t.get("detail"), t.get("origin"))
            return
    for key in keys:
        t = triage.get((vul.id, key))
        if t:
            _apply_triage(vul, t.state, t.justification, t.detail, t.origin)
            return


def _vuln_fields(vid: str, row, k, e, x=None) -> dict[str, Any]:
    """The fields of a Vulnerability that depend on the CVE only (built once per CVE per scan).
    `x`: evidence of exploitation [{source, since, ref?}] (CISA KEV, ENISA EUVD)."""
    # plain dicts: each Vulnerability validates its own CvssScore objects (nothing shared between them)
    cvss = [{f: x[f] for f in ("version", "vector", "base_score", "severity", "source")}
            for x in (row.cvss or [])] if row else []
    d: dict[str, Any] = {"id": vid, "aliases": list(row.aliases or []) if row else [],
                         "description": row.description if row else None,
                         "published": row.published if row else None, "cvss": cvss,
                         "references": list(row.references or [])[:20] if row else []}
    vsev = [dict(v) for v in (row.vendor_severity or []) if v.get("severity")] if row else []
    if row and row.cwes:
        d["cwes"] = [dict(c) for c in row.cwes]
    if vsev:
        d["vendor_severity"] = vsev
    b = best_score([CvssScore(**c) for c in cvss])
    if b:
        d["severity"] = severity_from_score(b.base_score) if b.version != "2.0" else (
            b.severity or severity_from_score(b.base_score))
        d["severity_basis"] = "cvss"
    elif vsev:  # no CVSS at all: the vendor's own rating stands (its source is in vendor_severity)
        d["severity"] = min((v["severity"] for v in vsev), key=lambda s: SEVERITY_ORDER.get(s, 9))
        d["severity_basis"] = "vendor"
    if k:
        d["kev"] = {f: k[f] for f in ("date_added", "due_date", "ransomware", "name")}
    if e:
        d["epss"] = {"score": e["score"], "percentile": e["percentile"]}
    ex = [dict(y) for y in (x or [])]
    if k and not any(y["source"] == "cisa-kev" for y in ex):  # a KEV row always counts, even unmirrored
        ex.insert(0, {"source": "cisa-kev", "since": k.get("date_added")})
    if ex:
        d["exploited"] = ex
    return d


def _auto_rule_out(vul, c, ck, extra, store, s, fixes_cache, ruleout) -> None:
    props = c.properties or {}
    if props.get("distro") and props.get("source_package") or props.get("package_version"):
        distro = str(props.get("distro") or "debian").lower()
        pkg = str(props.get("source_package") or c.name)
        key = (distro, pkg)
        if key not in fixes_cache:
            fixes_cache[key] = store.distro_fixes(s, distro, pkg)
        fix = ruleout.distro_fixed(c, fixes_cache[key].get(vul.id, []))
        if fix:
            just, det = ruleout.distro_statement(fix, pkg)
            vul.vex = VexStatement(state="not_affected", justification=just, detail=det)
            vul.match["ruled_out_by"] = {"rule": "distro_fix", "distro": distro, "package": pkg, **fix}
            return
    if ("linux", "linux_kernel") in ck.pairs:
        r = ruleout.kernel_not_built(vul.description, extra.get("kernel"))
        if r:
            vul.vex = VexStatement(state="not_affected", justification=r[0], detail=r[1])
            vul.match["ruled_out_by"] = {"rule": "kernel_config"}
            return
    if ("busybox", "busybox") in ck.pairs:
        bb = extra.get("busybox") or ({"applets": props["applets"]} if isinstance(props.get("applets"), list) else None)
        r = ruleout.busybox_not_built(vul.description, bb)
        if r:
            vul.vex = VexStatement(state="not_affected", justification=r[0], detail=r[1])
            vul.match["ruled_out_by"] = {"rule": "busybox_applets",
                                         "applets": sorted(ruleout.busybox_applets_named(vul.description or ""))}


def _apply_triage(vul: Vulnerability, state: str, just: str | None, detail: str | None, origin: str | None) -> None:
    vul.match["automatic_vex"] = vul.vex.model_dump(exclude_none=True)
    text = Text(en=f"triage: {detail}", zh=f"人工分诊：{detail}") if detail else None
    vul.vex = VexStatement(state=state, justification=just if state == "not_affected" else None, detail=text,
                           source=origin or "triage")


def run(ctx: ScanContext) -> None:
    from firmpass.vulns.store import db_errors, display_db, open_store, resolve_db_path
    from firmpass.vulns.vex import load_triage_files

    # triage first: a bad --vex fails the stage before anything is recorded as checked
    triage_files = load_triage_files(list(ctx.options.vex_files)) if ctx.options.vex_files else []
    path = resolve_db_path(ctx.options.db_path)
    store = open_store(path, existing=True)  # the default store can be damaged too: one line, not an SQL error
    try:
        with db_errors(path):
            summary = db_summary(store, path)
        ctx.result.extra["vuln_db"] = summary
        if store is None or summary["empty"]:
            ctx.warn(STAGE, "vuln_db_empty", msg("vulns.warn.db_empty", path=display_db(path)))
            return
        try:
            ctx.result.vulnerabilities = match_components(store, ctx.result.components, ctx.result.extra,
                                                          triage_files, ctx.checkpoint)
        except DeadlineReached as e:  # the matches made before the deadline are kept (stage 'stopped')
            ctx.result.vulnerabilities = list(e.partial or [])
            raise
        states: dict[str, int] = {}
        for v in ctx.result.vulnerabilities:
            states[v.vex.state] = states.get(v.vex.state, 0) + 1
        summary["matched"] = {"total": len(ctx.result.vulnerabilities), "by_state": states,
                              "kev": sum(1 for v in ctx.result.vulnerabilities if v.kev and v.vex.state == "affected"),
                              "exploited": sum(1 for v in ctx.result.vulnerabilities
                                               if v.is_exploited and v.vex.state == "affected"),
                              "unversioned_components": sum(1 for c in ctx.result.components if not c.version)}
        summary["triage_files"] = [str(p) for p in ctx.options.vex_files]
    finally:
        if store is not None:
            store.close()

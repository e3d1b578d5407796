"""Parents derived from their children: NIST IR 8425 outcome <- sub-outcomes, PSTI paragraph <- its
sub-paragraphs, CRA Annex I Part I(1) <- Part I(2)(a)-(m).  A parent is never better than its children."""
from __future__ import annotations

import re

from firmpass.i18n import msg
from firmpass.model import Text

_NIST_CHILD = re.compile(r"^(8425-[A-Z]+)-\d+$")
_PSTI_CHILD = re.compile(r"^(PSTI-S1-\d)\.[a-z]$")


def parent_of(ref: str) -> str | None:
    """The ref of the provision `ref` is a child of, or None."""
    fw, pid = ref.split(":", 1)
    if fw == "nistir8425" and (m := _NIST_CHILD.match(pid)):
        return f"{fw}:{m.group(1)}"
    if fw == "psti" and (m := _PSTI_CHILD.match(pid)):
        return f"{fw}:{m.group(1)}"
    if fw == "cra" and pid.startswith("AnnexI.PartI.2."):
        return "cra:AnnexI.PartI.1"  # Part I(1) is met through the Part I(2) essential requirements
    return None


def derive_parents(verdicts: list[dict]) -> None:
    """A parent is never better than its applicable children: any child not met / partly met -> the parent
    is at most partly met (not met when most children are not met); children needing evidence keep a
    'met' parent at needs_evidence.  The parent's own evidence still counts (a bad parent stays bad)."""
    by_ref = {v["ref"]: v for v in verdicts}
    kids: dict[str, list[dict]] = {}
    for v in verdicts:
        p = parent_of(v["ref"])
        if p in by_ref:
            kids.setdefault(p, []).append(v)
    rank = {"not_met": 0, "partly_met": 1, "needs_evidence": 2, "met": 3}
    for pref, cs in kids.items():
        par = by_ref[pref]
        app = [c for c in cs if c["verdict"] != "not_applicable"]
        if not app or par["verdict"] == "not_applicable":
            continue
        counts = {k: sum(1 for c in app if c["verdict"] == k) for k in rank}
        n_bad = counts["not_met"]
        if n_bad * 2 > len(app):
            from_kids = "not_met"
        elif n_bad or counts["partly_met"]:
            from_kids = "partly_met"
        elif counts["needs_evidence"]:
            from_kids = "needs_evidence"
        else:
            from_kids = "met"
        own = par["verdict"]
        new = min(own, from_kids, key=lambda x: rank[x])
        if own == "needs_evidence" and from_kids in ("not_met", "partly_met"):
            new = from_kids
        par["derived_from"] = [c["ref"] for c in app]
        labels = [(msg(f"assess.verdict.{k}"), n) for k, n in counts.items() if n]
        shown = Text(en=", ".join(f"{t.en} {n}" for t, n in labels), zh="，".join(f"{t.zh} {n} 项" for t, n in labels))
        worst = [c["ref"].split(":", 1)[1] for c in app if c["verdict"] in ("not_met", "partly_met", "needs_evidence")]
        note = msg("assess.derived", n=len(app), counts=shown, refs=", ".join(worst[:8]) or "-")
        par["reason"] = {"en": f"{par['reason']['en']}; {note.en}", "zh": f"{par['reason']['zh']}；{note.zh}"}
        if new != own:
            if par["declared"]:
                dn = msg("assess.basis.declared_note")
                par["reason"] = {"en": par["reason"]["en"].replace(f"; {dn.en}", ""),
                                 "zh": par["reason"]["zh"].replace(f"；{dn.zh}", "")}
            par["verdict"] = new
            par["declared"] = False
            par["qualifier"] = None
            par["next_step"] = msg("assess.next.children", refs=", ".join(worst[:8])).model_dump()

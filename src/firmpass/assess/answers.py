"""Rule answers and documents: a rule's `answers:` expressions and `docs:` keys evaluated against the
product profile, each to an Aspect (used by assess.engine)."""
from __future__ import annotations

from typing import Any

from firmpass.assess.facts import BAD, OK, UNKNOWN, Aspect
from firmpass.i18n import msg
from firmpass.i18n import terms
from firmpass.model import Text
from firmpass.profile import get, has


def _fmt(v: Any) -> Text:
    """A profile value in both languages (true reads yes / 是; enum values from the term base)."""
    return terms.value(v)


def eval_answer(expr: str, profile: dict | None) -> Aspect:
    """One profile answer against a rule expression `FIELD[|FIELD] OP [ARG]`."""
    parts = expr.split(None, 2)
    fields, op = parts[0].split("|"), parts[1]
    arg = parts[2] if len(parts) > 2 else None
    oks, bads, unknown = [], [], []
    for fld in fields:
        v = get(profile, fld)
        if v is None or v == "" or v == []:
            parent = fld.rsplit(".", 1)[0] if "." in fld else None
            if op == "set" and (has(profile, fld) or (parent and isinstance(get(profile, parent), dict))):
                bads.append({"field": fld, "value": v})
            else:
                unknown.append(fld)
            continue
        if op == "set":
            ok = bool(v)
        elif op == "true":
            ok = v is True
        elif op == "false":
            ok = v is False
        elif op == "in":
            ok = str(v) in arg.split(",")
        elif op == "notin":
            ok = str(v) not in arg.split(",")
        elif op == "gte":
            ok = isinstance(v, (int, float)) and v >= float(arg)
        elif op == "lte":
            ok = isinstance(v, (int, float)) and v <= float(arg)
        else:
            raise ValueError(f"unknown operator {op!r} in rule {expr!r}")
        (oks if ok else bads).append({"field": fld, "value": v})
    if oks:
        a = oks[0]
        return Aspect(OK, msg("assess.answer.ok", field=a["field"], value=_fmt(a["value"])), answers=oks)
    shown = " | ".join(fields)
    if bads and not unknown:
        a = bads[0]
        expected = msg(f"assess.op.{op}", arg=(arg or "").replace(",", ", "))
        val = _fmt(a["value"]) if a["value"] not in (None, "", []) else Text(en="-", zh="-")
        return Aspect(BAD, Text(en=f"profile {a['field']} = {val.en} ({expected.en})",
                                zh=f"档案 {a['field']} = {val.zh}（{expected.zh}）"), answers=bads)
    return Aspect(UNKNOWN, msg("assess.answer.missing", field=shown), answers=bads, question=unknown[0])


def eval_doc(key: str, profile: dict | None) -> Aspect:
    v = get(profile, f"documents.{key}")
    name = msg(f"profile.doc.{key}")
    if v is None:
        return Aspect(UNKNOWN, Text(en=f"document '{name.en}' not declared", zh=f"未声明文档“{name.zh}”"),
                      question=f"documents.{key}")
    ans = [{"field": f"documents.{key}", "value": v}]
    if v is False or v == "":
        return Aspect(BAD, Text(en=f"document '{name.en}' does not exist (profile)", zh=f"文档“{name.zh}”不存在（档案）"), answers=ans)
    ref = "" if v is True else f": {v}"
    return Aspect(OK, Text(en=f"document '{name.en}' exists{ref}", zh=f"文档“{name.zh}”已具备{ref}"), answers=ans)

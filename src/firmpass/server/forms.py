"""The product profile as an HTML form: the questions of `firmpass profile init`
(firmpass/profile/questions.yaml), parsed with the same `parse_answer` and validated by the same
JSON schema, so a profile made in the browser is one `profile validate` accepts."""
from __future__ import annotations

import copy
from typing import Any

from firmpass.i18n import msg
from firmpass.profile import validate_texts
from firmpass.profile.cli import _set, default_profile, parse_answer, questions

MARKETS = ("eu", "uk", "us", "cn")


def _get(d: dict, field: str) -> Any:
    for p in field.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _unset(d: dict, field: str) -> None:
    parts = field.split(".")
    for p in parts[:-1]:
        d = d.get(p)
        if not isinstance(d, dict):
            return
    d.pop(parts[-1], None)


def label(field: str, lang: str) -> str:
    if field.startswith("documents."):
        return getattr(msg(f"profile.doc.{field.split('.', 1)[1]}"), lang)
    return getattr(msg(f"profile.q.{field}"), lang)


def _shown(kind: str, v: Any) -> str:
    if v is None:
        return ""
    if kind == "bool" or (kind == "doc" and isinstance(v, bool)):
        return "y" if v else "n"
    if kind in ("list", "markets"):
        return ", ".join(map(str, v))
    if kind == "debug":
        return ", ".join(f"{d.get('name')}={d.get('state', 'unknown')}" for d in v if isinstance(d, dict))
    return str(v)


def _structured(kind: str, v: Any) -> bool:
    """A value the one-line answer cannot hold (a list of mappings, a debug interface with more facts)."""
    if not isinstance(v, list):
        return False
    if kind == "debug":
        return any(not isinstance(d, dict) or set(d) - {"name", "state"} for d in v)
    return any(isinstance(x, (dict, list)) for x in v)


def sections(profile: dict | None, lang: str) -> list[dict[str, Any]]:
    """The form's sections and fields with labels, input kinds and current values."""
    from firmpass import frameworks

    prof = profile or {}
    out = []
    for sec in questions():
        fields = []
        for q in sec["fields"]:
            kind, field = q["type"], q["field"]
            cur = _get(prof, field)
            f = {"name": "q." + field, "field": field, "kind": kind, "label": label(field, lang),
                 "value": _shown(kind, cur), "structured": _structured(kind, cur)}
            if f["structured"]:  # richer than the question's answer: shown, kept as it is, edited in YAML
                import json

                f["value"] = json.dumps(cur, ensure_ascii=False)
            if kind == "choice":
                f["choices"] = [str(c) for c in q.get("choices") or []]
            elif kind == "cra_category":
                f["choices"] = [r["id"] for r in frameworks.cra_classes()["categories"]]
                f["choice_labels"] = {r["id"]: r[lang] for r in frameworks.cra_classes()["categories"]}
            elif kind == "markets":
                f["selected"] = list(cur or [])
            fields.append(f)
        out.append({"id": sec["id"], "title": getattr(msg(f"profile.section.{sec['id']}"), lang), "fields": fields})
    return out


def parse(form: dict[str, Any], base: dict | None, lang: str) -> tuple[dict[str, Any], list[str]]:
    """(profile, errors): the form's answers over `base`; an empty field removes the answer, a field the
    form did not post (a structured value shown read-only) keeps what `base` has."""
    data = copy.deepcopy(base) if base else default_profile()
    errors: list[str] = []
    for sec in questions():
        for q in sec["fields"]:
            kind, field = q["type"], q["field"]
            if kind == "markets":
                vals = [m for m in MARKETS if form.get(f"q.{field}.{m}")]
                if vals:
                    _set(data, field, vals)
                continue
            if "q." + field not in form:
                continue
            raw = str(form.get("q." + field) or "").strip()
            if not raw:
                if _get(data, field) != []:  # an empty list shows as an empty field: kept as declared
                    _unset(data, field)
                continue
            if kind == "cra_category":
                _set(data, field, raw)
                continue
            try:
                _set(data, field, parse_answer(kind, raw, q.get("choices")))
            except ValueError as e:
                errors.append(f"{label(field, lang)}: {e}")
    for e in validate_texts(data):
        errors.append(getattr(e, lang))
    return data, errors

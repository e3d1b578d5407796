"""The profile as pydantic models generated from schema.json, so the two cannot drift apart.

schema.json (draft 2020-12, checked by `jsonschema` with bilingual messages in profile/__init__.py)
stays the one description of the profile's shape; `Profile` is built from it at first use: every
object with `properties` becomes a model with those fields (none required but the schema's
`required`; extra keys forbidden where the schema forbids them), `enum`/`const` become Literal,
JSON types become Python types.  `load_profile` validates a profile against both and hands stages the
plain dict (read through `profile.get(p, "support.end_date")`); `Profile.of(dict)` gives the typed view.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, create_model

from firmpass.frameworks.registry import derived

_JSON = {"string": str, "integer": int, "number": float, "boolean": bool, "null": type(None)}


def _type(node: dict[str, Any], name: str) -> Any:
    if "const" in node:
        return Literal[node["const"]]
    if "enum" in node:
        return Literal[tuple(node["enum"])]
    for key in ("oneOf", "anyOf"):
        if key in node:
            return Union[tuple(_type(n, f"{name}_{i}") for i, n in enumerate(node[key]))]
    kind = node.get("type")
    if isinstance(kind, list):
        return Union[tuple(_type({**node, "type": k}, name) for k in kind)]
    if kind == "object":
        if node.get("properties"):
            return _model(name, node)
        extra = node.get("additionalProperties")
        return dict[str, _type(extra, f"{name}_value") if isinstance(extra, dict) else Any]
    if kind == "array":
        items = node.get("items")
        return list[_type(items, f"{name}_item") if isinstance(items, dict) else Any]
    if kind == "integer":
        return int
    if kind == "number":
        return Union[int, float]
    return _JSON.get(kind, Any)


def _model(name: str, node: dict[str, Any]) -> type[BaseModel]:
    required = set(node.get("required") or [])
    fields: dict[str, Any] = {}
    for key, sub in node["properties"].items():
        t = _type(sub, f"{name}_{key}")
        fields[key] = (t, ...) if key in required else (Optional[t], None)
    extra = "forbid" if node.get("additionalProperties") is False else "allow"
    return create_model(name, __config__=ConfigDict(extra=extra), **fields)


@derived
@lru_cache(maxsize=1)
def profile_model() -> type[BaseModel]:
    """The Profile model for the current schema (markets and frameworks from the registry)."""
    from firmpass.profile import schema

    model = _model("Profile", schema())
    model.of = classmethod(lambda cls, data: cls.model_validate(data))
    return model

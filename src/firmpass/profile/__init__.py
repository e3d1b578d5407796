"""The product profile: what the maker declares about a product that firmware cannot show.

YAML validated against the JSON schema in this package (schema.json, draft 2020-12, via the
`jsonschema` library).  `load_profile(path)` returns a plain dict or raises
errors.UnusableInput("err.bad_profile", ...) with one clear line naming the first problem.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from firmpass.frameworks import registry
from firmpass.frameworks.registry import derived
from firmpass.errors import UnusableInput, require_file
from firmpass.model import Text

MAX_PROFILE_BYTES = 1024 * 1024
_MISSING = object()


@derived
@lru_cache(maxsize=None)
def schema() -> dict[str, Any]:
    """schema.json with the names of markets and frameworks taken from the registry
    (frameworks/registry.yaml): `markets` items and the `declarations` ref prefix."""
    data = json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))
    props = data["properties"]
    props["markets"]["items"]["enum"] = list(registry.market_ids())
    props["declarations"]["propertyNames"]["pattern"] = f"^({'|'.join(registry.framework_ids())}):"
    return data


def _plain(obj: Any) -> Any:
    """YAML dates/datetimes -> ISO strings, so the JSON schema sees what a JSON file would carry."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    return obj


def validate(data: Any) -> list[str]:
    """Schema errors as short lines `where: what` in English (empty when the profile is valid)."""
    return [t.en for t in validate_texts(data)]


def validate_texts(data: Any) -> list[Text]:
    """Schema errors as bilingual `where: what` (jsonschema's own messages are English only, so the
    common kinds are phrased here in both languages from the error's validator and value)."""
    from jsonschema import Draft202012Validator  # lazy: importing jsonschema costs ~1 s (format checkers)

    v = Draft202012Validator(schema())
    out = []
    for e in sorted(v.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))):
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        what = _explain(e)
        out.append(Text(en=f"{where}: {what.en}", zh=f"{where.replace('(top level)', '（顶层）')}：{what.zh}"))
    return out


_TYPES_ZH = {"string": "字符串", "integer": "整数", "number": "数字", "boolean": "布尔值（true/false）",
             "array": "列表", "object": "映射（键: 值）", "null": "空值"}


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _explain(e) -> Text:
    kind, want, got = e.validator, e.validator_value, _short(e.instance)
    if kind == "required":
        missing = [k for k in want if isinstance(e.instance, dict) and k not in e.instance]
        names = ", ".join(missing or want)
        return Text(en=f"missing required field(s) {names}", zh=f"缺少必填字段 {names}")
    if kind == "type":
        types = want if isinstance(want, list) else [want]
        return Text(en=f"{got} is not of type {' or '.join(types)}",
                    zh=f"{got} 的类型应为{'或'.join(_TYPES_ZH.get(t, t) for t in types)}")
    if kind == "enum":
        choices = ", ".join(map(str, want))
        return Text(en=f"{got} is not one of: {choices}", zh=f"{got} 不是允许的取值之一：{choices}")
    if kind == "const":
        return Text(en=f"{got} must be {_short(want)}", zh=f"{got} 必须为 {_short(want)}")
    if kind == "format":
        return Text(en=f"{got} is not a valid {want}", zh=f"{got} 不是有效的 {want} 格式")
    if kind == "pattern":
        return Text(en=f"{got} does not match the expected form {want}", zh=f"{got} 不符合要求的格式 {want}")
    if kind == "additionalProperties":
        extra = ", ".join(sorted(k for k in (e.instance or {}) if k not in (e.schema.get("properties") or {})))
        return Text(en=f"unknown field(s) {extra}", zh=f"未知字段 {extra}")
    if kind in ("minLength", "minItems"):
        return Text(en=f"{got} is too short (at least {want})", zh=f"{got} 过短（至少 {want}）")
    if kind in ("maxLength", "maxItems"):
        return Text(en=f"{got} is too long (at most {want})", zh=f"{got} 过长（至多 {want}）")
    if kind in ("minimum", "exclusiveMinimum"):
        return Text(en=f"{got} is below the minimum {want}", zh=f"{got} 小于最小值 {want}")
    if kind in ("maximum", "exclusiveMaximum"):
        return Text(en=f"{got} is above the maximum {want}", zh=f"{got} 大于最大值 {want}")
    if kind in ("oneOf", "anyOf"):
        return Text(en=f"{got} does not match any allowed form", zh=f"{got} 不符合任何一种允许的形式")
    return Text(en=e.message, zh=f"不符合档案结构（{kind}）：{e.message}")


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors/aliases: a profile never needs them, and aliases nested a few levels deep
    expand a few hundred bytes into billions of nodes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _AliasUsed(self.peek_event().start_mark.line + 1)
        return super().compose_node(parent, index)


class _AliasUsed(Exception):
    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


def parse_profile(text: str, path: str = "<profile>") -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).split("\n")[0]
        en_where, zh_where = (f"line {mark.line + 1}", f"第 {mark.line + 1} 行") if mark is not None else ("YAML", "YAML")
        raise UnusableInput("err.bad_profile", path=path,
                            detail=Text(en=f"{en_where}: {problem}", zh=f"{zh_where}：YAML 语法错误（{problem}）")) from None
    except _AliasUsed as e:
        raise UnusableInput("err.bad_profile", path=path,
                            detail=Text(en=f"line {e.line}: aliases (*name) are not allowed in a profile",
                                        zh=f"第 {e.line} 行：档案中不允许使用 YAML 别名（*name）")) from None
    except (ValueError, TypeError, OverflowError) as e:  # a value YAML cannot build: 2027-02-30, a huge int
        raise UnusableInput("err.bad_profile", path=path,
                            detail=Text(en=f"a value cannot be read: {e}", zh=f"有取值无法解析（如不存在的日期）：{e}")) from None
    except RecursionError:
        raise UnusableInput("err.bad_profile", path=path,
                            detail=Text(en="nested too deeply", zh="嵌套层级过深")) from None
    if not isinstance(data, dict):
        raise UnusableInput("err.bad_profile", path=path,
                            detail=Text(en="expected a YAML mapping at the top level", zh="顶层应为 YAML 映射（键: 值）"))
    data = _plain(data)
    errs = validate_texts(data)
    if errs:
        n = len(errs) - 1
        more = Text(en=f" (and {n} more)", zh=f"（另有 {n} 处）") if n else Text(en="", zh="")
        raise UnusableInput("err.bad_profile", path=path, detail=Text(en=errs[0].en + more.en, zh=errs[0].zh + more.zh))
    return data


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read and validate a profile; raise UnusableInput('err.bad_profile') with one clear line."""
    p = Path(path)
    try:
        require_file(p)
        if p.stat().st_size > MAX_PROFILE_BYTES:
            raise UnusableInput("err.bad_profile", path=str(p),
                                detail=Text(en=f"larger than {MAX_PROFILE_BYTES} bytes", zh=f"超过 {MAX_PROFILE_BYTES} 字节"))
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UnusableInput("err.bad_profile", path=str(p), detail=Text(en="not UTF-8 text", zh="不是 UTF-8 文本")) from None
    except OSError as e:
        raise UnusableInput("err.bad_profile", path=str(p), detail=e.strerror or str(e)) from None
    return parse_profile(text, str(p))


def profile_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def get(profile: dict[str, Any] | None, field: str, default: Any = None) -> Any:
    """A dotted field of the profile (`support.end_date`), or `default` when absent."""
    cur: Any = profile
    for part in field.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def has(profile: dict[str, Any] | None, field: str) -> bool:
    return get(profile, field, _MISSING) is not _MISSING

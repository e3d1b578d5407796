"""`firmpass profile init | validate | schema`."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import typer

import yaml

from firmpass.frameworks.registry import market_ids


@lru_cache(maxsize=None)
def questions() -> list[dict[str, Any]]:
    data = yaml.safe_load(resources.files("firmpass.profile").joinpath("questions.yaml").read_text(encoding="utf-8"))
    return data["sections"]


def _set(d: dict, field: str, value: Any) -> None:
    parts = field.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


YES = {"y", "yes", "true", "1", "是", "是的", "对"}
NO = {"n", "no", "false", "0", "否", "不", "不是"}


def parse_answer(kind: str, text: str, choices: list | None = None) -> Any:
    """Turn one typed answer into a profile value; raise ValueError with a short reason."""
    t = text.strip()
    if kind == "bool":
        if t.lower() in YES:
            return True
        if t.lower() in NO:
            return False
        raise ValueError("y / n")
    if kind == "int":
        return int(t)
    if kind == "float":
        return float(t)
    if kind == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            raise ValueError("YYYY-MM-DD")
        import datetime as dt

        dt.date.fromisoformat(t)
        return t
    if kind in ("list", "markets"):
        items = [x.strip() for x in re.split(r"[,，]", t) if x.strip()]
        known = market_ids()
        if kind == "markets" and any(x not in known for x in items):
            raise ValueError(", ".join(known))
        return items
    if kind == "choice":
        for c in choices or []:
            if t == str(c):
                return c
        raise ValueError(" / ".join(map(str, choices or [])))
    if kind == "doc":
        if t.lower() in YES:
            return True
        if t.lower() in NO:
            return False
        return t
    if kind == "debug":
        out = []
        for part in re.split(r"[,，]", t):
            if not part.strip():
                continue
            name, _, state = part.partition("=")
            state = state.strip() or "unknown"
            if state not in ("disabled", "locked", "enabled", "removed", "unknown"):
                raise ValueError("NAME=disabled|locked|enabled|removed")
            out.append({"name": name.strip(), "state": state})
        return out
    return t


def default_profile() -> dict[str, Any]:
    """The non-interactive profile (`--defaults`): every question skipped except the required ones."""
    return {"schema_version": 1, "product": {"name": "unnamed product"}, "markets": list(market_ids())}


def _ask_all(con, Prompt, T, data: dict, lang: str, frameworks) -> None:
    """Ask every question of questions.yaml in order; an empty answer skips the question."""
    for section in questions():
        con.rule(T("profile.init.section", name=T(f"profile.section.{section['id']}")))
        for q in section["fields"]:
            kind, field = q["type"], q["field"]
            prompt = T(f"profile.q.{field}") if not field.startswith("documents.") else \
                T(f"profile.doc.{field.split('.', 1)[1]}") + " " + T("profile.init.doc")
            choices = q.get("choices")
            if kind == "cra_category":
                rows = frameworks.cra_classes()["categories"]
                guess = frameworks.guess_cra_category(str(data.get("product", {}).get("category", "")))
                for i, r in enumerate(rows, 1):
                    con.print(f"  {i:2}. {r[lang]}  [{r['annex'] or '-'} -> {r['class']}]", markup=False)
                default = str(rows.index(guess) + 1) if guess else ""
                while True:
                    ans = Prompt.ask(prompt, default=default or None, console=con)
                    if not ans:
                        break
                    if ans.isdigit() and 1 <= int(ans) <= len(rows):
                        row = rows[int(ans) - 1]
                        _set(data, "product.cra_category", row["id"])
                        data["_suggested_class"] = row["class"]
                        con.print(T("profile.init.suggest", cat=row[lang], cls=row["class"], point=row["annex"] or "-"),
                                  markup=False)
                        break
                continue
            if field == "cra_class" and data.get("_suggested_class"):
                default = data["_suggested_class"]
            else:
                default = None
            if choices:
                prompt = f"{prompt} ({' / '.join(map(str, choices))})"
            while True:
                ans = Prompt.ask(prompt, default=default, console=con)
                if ans is None or not str(ans).strip():
                    break
                try:
                    _set(data, field, parse_answer(kind, str(ans), choices))
                    break
                except ValueError as e:
                    con.print(T("profile.init.invalid", detail=str(e)), markup=False)


def register(app: typer.Typer) -> None:
    profile_app = typer.Typer(help="Product profile: create, check, show the schema. 产品档案：创建、校验、查看模式。",
                              no_args_is_help=True)
    app.add_typer(profile_app, name="profile")

    @profile_app.command("init")
    def init(
        out: Path = typer.Option(Path("profile.yaml"), "-o", "--out", help="File to write."),
        lang: str = typer.Option("en", "--lang", help="Language of the questions: en or zh."),
        defaults: bool = typer.Option(False, "--defaults", help="Do not ask; write a minimal profile to complete later."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Ask the profile questions (English or Chinese) and write a validated YAML profile."""
        from rich.prompt import Prompt

        from firmpass import frameworks
        from firmpass.console import out_console
        from firmpass.errors import FirmpassError
        from firmpass.i18n import both, msg
        from firmpass.profile import validate_texts

        if lang not in ("en", "zh"):
            raise FirmpassError("err.bad_choice", option="--lang", value=repr(lang), choices="en, zh")
        if out.exists() and not force:
            raise FirmpassError("err.bad_option", detail=msg("profile.init.exists", path=str(out)))
        T = lambda key, **kw: getattr(msg(key, **kw), lang)  # noqa: E731
        data: dict[str, Any] = default_profile()
        if not defaults:
            con = out_console
            con.print(T("profile.init.title"), markup=False)
            try:
                _ask_all(con, Prompt, T, data, lang, frameworks)
            except EOFError:  # input ended (piped answers): keep what was answered
                pass
            data.pop("_suggested_class", None)
        errs = validate_texts(data)
        if errs:
            raise FirmpassError("err.bad_profile", path=str(out), detail=errs[0])
        out.write_text("# firmpass product profile (schema: firmpass profile schema)\n"
                       + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        out_console.print(both(msg("profile.init.written", path=str(out))), markup=False)

    @profile_app.command("validate")
    def validate_cmd(file: Path = typer.Argument(..., help="Profile to check.")) -> None:
        """Validate a profile against the JSON schema (exit 2 with one clear line if invalid)."""
        from firmpass.console import out_console
        from firmpass.i18n import both, msg
        from firmpass.profile import load_profile

        load_profile(file)
        out_console.print(both(msg("profile.validate.ok", path=str(file))), markup=False)

    @profile_app.command("schema")
    def schema_cmd() -> None:
        """Print the profile's JSON schema."""
        from firmpass.profile import schema

        typer.echo(json.dumps(schema(), ensure_ascii=False, indent=2))

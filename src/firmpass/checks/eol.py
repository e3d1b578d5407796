"""Outdated / end-of-life components (EOL-001) from ctx.result.components and the sourced table
``data/eol.yaml``."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from functools import lru_cache
from importlib import resources

import yaml

from firmpass.checks.base import CheckRun, Hit
from firmpass.checks.registry import check
from firmpass.model import Evidence, Text


@lru_cache(maxsize=None)
def table() -> dict:
    return yaml.load(resources.files("firmpass.checks").joinpath("data", "eol.yaml").read_text("utf-8"),  # noqa: S506
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml's safe loader


def upstream_version(v: str) -> str:
    v = v.split(":", 1)[-1]  # epoch
    v = re.split(r"[-+~]", v, maxsplit=1)[0]  # distro revision
    return v


def _vt(s: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", s))


def lookup(name: str, version: str) -> dict | None:
    """{product, branch, eol (date), source} when (name, version) is on an ended branch's row."""
    n = name.lower()
    for product, row in table().items():
        if n not in row["names"] and not (product == "linux" and n.startswith("linux-image")):
            continue
        up = upstream_version(version)
        nums = re.findall(r"\d+", up)
        if not nums:
            return None
        parts = row.get("branch_parts", 2)
        if product == "openssl" and nums[0] in ("0", "1"):
            parts = row.get("branch_parts_legacy", 3)
        branch = ".".join(nums[:parts])
        ent = row["branches"].get(branch)
        if ent is not None:
            return {"product": product, "branch": branch, "eol": _as_date(ent["eol"]), "source": ent["source"]}
        if product == "linux":
            listed = sorted(row["branches"], key=_vt)
            if _vt(branch) < _vt(listed[0]):
                # ended (older than every branch kernel.org still lists) on a date this table does not know:
                # never shown as the date of another branch
                return {"product": product, "branch": branch, "eol": None, "unknown_date": True,
                        "source": "https://www.kernel.org/category/releases.html (older than every longterm branch)"}
            if _vt(branch) < _vt(row["non_lts_unmaintained_before"]):
                return {"product": product, "branch": branch, "eol": None,
                        "source": "https://www.kernel.org/category/releases.html (non-longterm stable branch)"}
        return None
    return None


def _as_date(v) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


@check("EOL-001")
def end_of_life(run: CheckRun, today: date | None = None):
    today = today or run.memo.get("today") or datetime.now(timezone.utc).date()
    for c in run.ctx.result.components:
        if not c.version:
            continue
        hit = lookup(c.name, c.version)
        if hit is None or (hit["eol"] is not None and hit["eol"] > today):
            continue
        if hit.get("unknown_date"):
            eol = Text(en="(ended, end date unknown)", zh="（已停止支持，停止日期未知）")
            ended = Text(en="has ended (end date unknown)", zh="已停止支持（停止日期未知）")
            support = Text(en="an old branch that upstream no longer supports (end date unknown)",
                           zh="该分支早已不受上游支持（停止日期未知）")
        elif hit["eol"]:
            eol = hit["eol"].isoformat()
            ended = Text(en=f"ended {eol}", zh=f"已于 {eol} 停止支持")
            support = Text(en=f"whose upstream support ended on {eol}", zh=f"该分支的上游支持已于 {eol} 结束")
        else:
            eol = Text(en="(non-longterm branch, unmaintained)", zh="（非长期支持分支，已无人维护）")
            ended = Text(en="is a non-longterm branch, no longer maintained", zh="为非长期支持分支，已停止维护")
            support = Text(en="a non-longterm branch that upstream no longer maintains",
                           zh="该分支不是长期支持分支，上游已停止维护")
        distro = bool(re.search(r"[-~+](deb|ubuntu|el\d|fc\d|\d)", c.version.split(":", 1)[-1]))
        evs = [Evidence(path=ev.path or "-", container=ev.container, excerpt=ev.match,
                        detail=Text(en=f"{c.name} {c.version} identified by {ev.method}",
                                    zh=f"识别为 {c.name} {c.version}（依据：{ev.method}）")) for ev in c.evidence]
        evs += [Evidence(path=p, detail=Text(en=f"file of {c.name}", zh=f"属于 {c.name} 的文件"))
                for p in c.files[:5] if p not in {e.path for e in evs}]
        if not evs:
            evs = [Evidence(path="-", detail=Text(en=f"component {c.bom_ref}", zh=f"组件 {c.bom_ref}"))]
        note = Text(en=(" (the version string carries a distribution revision: check whether the distribution "
                        "still backports fixes)") if distro else "",
                    zh="（版本号带有发行版修订号：请确认该发行版是否仍在回移修复）" if distro else "")
        yield Hit(key=("eol", hit["product"], hit["branch"], c.name), evidence=evs,
                  params={"name": c.name, "version": c.version, "product": hit["product"], "branch": hit["branch"],
                          "eol": eol, "ended": ended, "support": support, "source": hit["source"],
                          "distro_note": note},
                  severity="medium" if distro else None,
                  data={"component": c.bom_ref, "product": hit["product"], "branch": hit["branch"],
                        "eol": eol if isinstance(eol, str) else eol.en,
                        "source": hit["source"], "distribution_revision": distro})

"""The registry of markets and frameworks (registry.yaml next to this module), read once.

Everything that names a market or a framework derives from it: `firmpass --market`, the profile
schema's `markets` and `declarations`, assess.engine (frameworks per market, their order, the
applicability hook of each), the report's market order and labels, and the tests.  The file is
validated when it is read (pydantic): an unknown framework in a market, a duplicate id or order,
or a missing catalogue is an error at load, not a wrong assessment later.

`use(path)` switches to another registry file (a test adding a framework and a market without
touching the package), `use(None)` back to the package's.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmpass.model import Text

_path: Path | None = None  # None: the package's registry.yaml


class FrameworkEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    order: int
    catalogue: str | None = None  # relative to the registry file; default data/<id>.yaml
    applicability: str | None = None  # name of a hook in assess.applicability.APPLICABILITY
    label: Text


class MarketEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Text
    frameworks: list[str] = Field(min_length=1)


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    frameworks: list[FrameworkEntry]
    markets: list[MarketEntry]
    base: Path | None = None  # the directory catalogues are relative to (set by load)

    @model_validator(mode="after")
    def _consistent(self) -> "Registry":
        ids = [f.id for f in self.frameworks]
        for what, seq in (("framework id", ids), ("framework order", [f.order for f in self.frameworks]),
                          ("market id", [m.id for m in self.markets])):
            dup = sorted({x for x in seq if seq.count(x) > 1}, key=str)
            if dup:
                raise ValueError(f"duplicate {what}: {dup}")
        for m in self.markets:
            unknown = [f for f in m.frameworks if f not in ids]
            if unknown:
                raise ValueError(f"market {m.id}: unknown framework(s) {unknown}")
        return self

    # ---- what the rest of firmpass reads
    def framework_ids(self) -> tuple[str, ...]:
        """In assessment / report order."""
        return tuple(f.id for f in sorted(self.frameworks, key=lambda f: f.order))

    def market_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.markets)

    def market_frameworks(self) -> dict[str, list[str]]:
        return {m.id: list(m.frameworks) for m in self.markets}

    def framework(self, fid: str) -> FrameworkEntry:
        for f in self.frameworks:
            if f.id == fid:
                return f
        raise KeyError(f"unknown framework {fid!r}")

    def market(self, mid: str) -> MarketEntry:
        for m in self.markets:
            if m.id == mid:
                return m
        raise KeyError(f"unknown market {mid!r}")

    def markets_of(self, fid: str) -> list[str]:
        return [m.id for m in self.markets if fid in m.frameworks]

    def catalogue_text(self, fid: str) -> str:
        rel = self.framework(fid).catalogue or f"data/{fid}.yaml"
        if self.base is None:
            return resources.files(__package__).joinpath(*rel.split("/")).read_text(encoding="utf-8")
        return (self.base / rel).read_text(encoding="utf-8")


def load(path: Path | None = None) -> Registry:
    """Read and validate a registry file (the package's when `path` is None)."""
    if path is None:
        text = resources.files(__package__).joinpath("registry.yaml").read_text(encoding="utf-8")
        return Registry.model_validate(yaml.safe_load(text))
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return Registry.model_validate({**data, "base": Path(path).resolve().parent})


@lru_cache(maxsize=1)
def current() -> Registry:
    return load(_path)


def use(path: Path | None) -> None:
    """Switch to the registry at `path` (None: the package's) and forget everything derived from the
    one before (catalogues, indexes, the profile schema)."""
    global _path
    _path = Path(path) if path is not None else None
    current.cache_clear()
    for clear in _derived:
        clear()


_derived: list = []


def derived(fn):
    """Mark an lru_cache'd function as computed from the registry: use() clears it."""
    _derived.append(fn.cache_clear)
    return fn


def framework_ids() -> tuple[str, ...]:
    return current().framework_ids()


def market_ids() -> tuple[str, ...]:
    return current().market_ids()


def market_frameworks() -> dict[str, list[str]]:
    return current().market_frameworks()


def market_label(market: str) -> Text:
    """The market's name in both languages (the id itself for a market the registry does not know)."""
    try:
        return current().market(market).label
    except KeyError:
        return Text(en=market, zh=market)


def parse_markets(text: str) -> list[str]:
    """`--market eu,uk` -> ["eu", "uk"]; an unknown market is a bilingual one-line error."""
    from firmpass.errors import FirmpassError

    known = market_ids()
    ms = [m.strip().lower() for m in text.split(",") if m.strip()]
    if any(m not in known for m in ms) or not ms:
        raise FirmpassError("err.bad_choice", option="--market", value=repr(text), choices=",".join(known))
    return ms

"""What a scan is doing, for a person or for a program that drives firmpass.

Three reporters share one interface (`start(stage, ctx)` / `done(stage, ctx, info)`), which
pipeline.run_stages calls around every stage:

* RichProgress: on a terminal, a live line per running stage (spinner, bilingual stage name, the
  count so far, elapsed time), and when it ends a kept line with its count and seconds;
* JsonProgress (`--json-progress`): one JSON object per line on stderr, `{"event": "start"|"done",
  "stage": ..., "seconds": ..., "status": ..., "counts": {...}}` then `{"event": "finished", ...}`;
* None when stderr is not a terminal or with `--quiet`: nothing is printed besides the final line.

Counts come from the scan result as it grows (the unpacker appends files container by container,
so the unpack count moves while it runs).
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any


def counts(stage: str, ctx) -> dict[str, int]:
    """The numbers a stage is about, read from the result (cheap: lengths only)."""
    r = ctx.result
    if stage in ("unpack", "inventory"):
        return {"files": len(r.files), "containers": len(r.image.container_chain)}
    if stage in ("identify", "sbom"):
        return {"components": len(r.components)}
    if stage == "vulns":
        return {"vulnerabilities": len(r.vulnerabilities)}
    if stage == "checks":
        return {"checks": len(r.extra.get("checks_run") or []), "findings": len(r.findings)}
    if stage == "assess":
        a = getattr(ctx, "assessment", None) or {}
        return {"markets": len(a.get("summary") or {})}
    return {}


# the one number shown on the stage's line, with its bilingual unit
_UNITS = {"files": ("files", "个文件"), "components": ("components", "个组件"),
          "vulnerabilities": ("vulnerabilities", "个漏洞"), "checks": ("checks", "项检查"),
          "findings": ("findings", "项发现"), "markets": ("markets", "个市场")}


def _count_text(c: dict[str, int]) -> str:
    parts = []
    for key, n in c.items():
        if key in _UNITS:
            en, zh = _UNITS[key]
            parts.append(f"{n} {en} / {n} {zh}")
    return ", ".join(parts)


class JsonProgress:
    """`--json-progress`: JSON lines on a stream (stderr by default), flushed as they happen."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()

    def _emit(self, obj: dict[str, Any]) -> None:
        self.stream.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.stream.flush()

    def start(self, stage: str, ctx) -> None:
        self._emit({"event": "start", "stage": stage, "t": round(time.perf_counter() - self.t0, 3)})

    def done(self, stage: str, ctx, info: dict[str, Any]) -> None:
        self._emit({"event": "done", "stage": stage, "status": info.get("status"), "seconds": info.get("seconds"),
                    "counts": counts(stage, ctx), "t": round(time.perf_counter() - self.t0, 3)})

    def finished(self, ctx) -> None:
        r = ctx.result
        self._emit({"event": "finished", "seconds": round(time.perf_counter() - self.t0, 3),
                    "counts": {"files": len(r.files), "components": len(r.components),
                               "vulnerabilities": len(r.vulnerabilities), "findings": len(r.findings)}})

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


class RichProgress:
    """A Rich live display on stderr: the running stage with its count so far and its clock; each
    finished stage stays as one line with its count and seconds."""

    def __init__(self, console, stages: list[str]):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console, self.stages = console, stages
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[count]}"),
                            TimeElapsedColumn(), console=console, transient=True, refresh_per_second=8)
        self.task = None
        self.ctx = None
        self.stage = None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def _label(self, stage: str) -> str:
        from firmpass.i18n import both, msg

        n = self.stages.index(stage) + 1 if stage in self.stages else 0
        return f"[{n}/{len(self.stages)}] {both(msg(f'stage.{stage}'))}"

    def _live_count(self) -> str:
        return _count_text(counts(self.stage, self.ctx)) if self.ctx is not None and self.stage else ""

    def start(self, stage: str, ctx) -> None:
        self.ctx, self.stage = ctx, stage
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(self._label(stage), total=None, count="")
        # Rich refreshes on its own thread; the count is re-read there so it moves while a stage runs
        self.bar.update(self.task, count=_LiveCount(self))

    def done(self, stage: str, ctx, info: dict[str, Any]) -> None:
        secs = info.get("seconds") or 0.0
        mark = {"ok": "✓", "failed": "✗"}.get(info.get("status"), "·")
        c = _count_text(counts(stage, ctx))
        self.bar.console.print(f"{mark} {self._label(stage)}  {c + '  ' if c else ''}{secs:.2f} s", markup=False,
                               highlight=False)
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
        self.stage = None

    def finished(self, ctx) -> None:
        return None


class _LiveCount:
    """Formats as the running stage's count each time Rich renders the line."""

    def __init__(self, rp: RichProgress):
        self.rp = rp

    def __format__(self, spec: str) -> str:
        return self.rp._live_count()

    def __str__(self) -> str:
        return self.rp._live_count()


def reporter(console, stages: list[str], quiet: bool = False, json_lines: bool = False):
    """The reporter a command should use: JSON lines when asked, Rich on a terminal, else None."""
    if json_lines:
        return JsonProgress()
    if quiet or not console.is_terminal:
        return None
    return RichProgress(console, stages)

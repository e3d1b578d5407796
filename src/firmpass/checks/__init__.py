"""The checks stage: run every registered check over the unpacked image and add findings.

Each check runs in isolation: one check failing (a bug, a hostile file) becomes a warning and the
other checks still run.  ``extra["checks_run"]`` lists the ids that ran to completion, so the assess
stage can treat "ran and found nothing" as firmware-level evidence.
"""
from __future__ import annotations

import time

from firmpass.context import ScanContext
from firmpass.model import Text


def run(ctx: ScanContext) -> None:
    from firmpass.checks.base import CheckRun

    cr = CheckRun(ctx)
    ran: list[str] = []
    timings: dict[str, float] = {}
    try:
        _run_checks(ctx, cr, ran, timings)
        from firmpass.checks.decisions import apply

        apply(ctx)  # people's decisions (accepted risk, fixed in version) beside the findings they explain
    finally:  # also when the scan's deadline stops the stage: the checks that ran are kept
        ctx.result.extra["checks_run"] = ran
        ctx.result.extra["hardening"] = {k: v for k, v in cr.memo.get("hardening_summary", {}).items()}
        ctx.result.extra["secure_boot"] = cr.memo.get("secure_boot", {"verdict": "unknown"})
        for key in ("updates", "logging", "services"):
            if key in cr.memo:
                ctx.result.extra[f"checks_{key}"] = cr.memo[key]
        ctx.result.tool.stages.setdefault("checks", {})["check_seconds"] = timings


def _run_checks(ctx: ScanContext, cr, ran: list[str], timings: dict[str, float]) -> None:
    from firmpass.checks.base import to_findings
    from firmpass.checks.registry import all_checks

    existing = {f.id for f in ctx.result.findings}
    for chk in all_checks():
        ctx.checkpoint()  # --timeout: a DeadlineReached passes the `except Exception` below
        t0 = time.perf_counter()
        try:
            hits = list(chk.func(cr) or [])
        except Exception as e:  # noqa: BLE001 - one check's failure must not lose the others
            ctx.warn("checks", "check_failed",
                     Text(en=f"check {chk.id} failed: {type(e).__name__}: {e}",
                          zh=f"检查项 {chk.id} 执行失败：{type(e).__name__}: {e}"), part=chk.id)
            continue
        finally:
            timings[chk.id] = round(time.perf_counter() - t0, 4)
        for f in to_findings(chk, hits):
            if f.id not in existing:
                ctx.result.findings.append(f)
        ran.append(chk.id)

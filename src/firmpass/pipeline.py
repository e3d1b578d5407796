"""The scan pipeline: stages in a fixed order, each a package with `run(ctx)`.

image -> unpack -> inventory -> identify -> sbom -> vulns -> checks -> assess -> report / evidence

findings.json is rewritten after every stage so a failure or a limit later on never loses what
was already computed.  `unpack` failing on unusable input ends the scan with exit 2; any other
stage failing is recorded as a warning and the scan goes on.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from firmpass import __version__
from firmpass.context import ScanContext, ScanOptions
from firmpass.errors import DeadlineReached, FirmpassError, InternalError, UnusableInput, require_file
from firmpass.i18n import exc_detail, msg
from firmpass.model import SCHEMA_VERSION, ImageInfo, ScanResult, ToolInfo

# vulns runs before sbom so the CycloneDX SBOM carries the vulnerabilities too
STAGES = ["unpack", "inventory", "identify", "vulns", "sbom", "checks", "assess", "report", "evidence"]
# stages whose failure means there is nothing to scan
FATAL = {"unpack"}
# stages that compute from the image: skipped once the scan's deadline (--timeout) has passed; the
# others (inventory, sbom, report, evidence) only write what was computed and always run
DEADLINE_SKIPPABLE = {"identify", "vulns", "checks", "assess"}


def hash_file(path: Path) -> tuple[str, str, int]:
    h256, h512, n = hashlib.sha256(), hashlib.sha512(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h256.update(chunk)
            h512.update(chunk)
            n += len(chunk)
    return h256.hexdigest(), h512.hexdigest(), n


def check_image(image: Path) -> None:
    require_file(image)
    if image.stat().st_size == 0:
        raise UnusableInput("err.empty_file", path=str(image))


def prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".firmpass-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UnusableInput("err.out_dir", path=str(out), detail=e.strerror or str(e)) from None


def new_context(image: Path, out: Path, options: ScanOptions | None = None) -> ScanContext:
    from firmpass.outdir import OutLock

    check_image(image)
    prepare_out(out)
    opts = options or ScanOptions()
    # OUT is this scan's: one scan at a time, earlier outputs removed, temporary files inside OUT
    lock = OutLock(out.resolve(), [image, opts.profile_path, *opts.vex_files, opts.db_path]).acquire()
    try:
        ctx = _new_context(image, out, opts)
    except BaseException:
        lock.release()
        raise
    ctx.scratch["outlock"] = lock
    # released by run_stages at its end; a context that is never run releases it when collected
    import weakref

    weakref.finalize(ctx, lock.release)
    return ctx


def _new_context(image: Path, out: Path, options: ScanOptions) -> ScanContext:
    sha256, sha512, size = hash_file(image)
    result = ScanResult(
        schema_version=SCHEMA_VERSION,
        tool=ToolInfo(version=__version__),
        image=ImageInfo(path=str(image), name=image.name, sha256=sha256, sha512=sha512, size=size),
    )
    return ScanContext(image=image.resolve(), out=out.resolve(), result=result, options=options)


def write_findings(ctx: ScanContext) -> Path:
    p = ctx.out / "findings.json"
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(ctx.result.to_json(), encoding="utf-8")
    os.replace(tmp, p)
    return p


def stage_runner(name: str) -> Callable[[ScanContext], None] | None:
    try:
        mod = importlib.import_module(f"firmpass.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"firmpass.{name}":
            return None
        raise
    return getattr(mod, "run", None)


def run_stages(ctx: ScanContext, stages: list[str], on_stage: Callable[[str], None] | None = None,
               progress=None) -> ScanContext:
    """`progress` (a firmpass.progress reporter) is told when each stage starts and ends."""
    try:
        return _run_stages(ctx, stages, on_stage, progress)
    finally:
        lock = ctx.scratch.pop("outlock", None)  # OUT is free again (see firmpass.outdir)
        if lock is not None:
            lock.release()


def _run_stages(ctx: ScanContext, stages: list[str], on_stage: Callable[[str], None] | None = None,
                progress=None) -> ScanContext:
    for name in stages:
        runner = stage_runner(name)
        info = ctx.result.tool.stages.setdefault(name, {})
        if runner is None:
            info["status"] = "absent"
            continue
        if name in DEADLINE_SKIPPABLE and hasattr(ctx, "remaining") and ctx.remaining() <= 0:
            info["status"] = "skipped"
            info["reason"] = "deadline"
            ctx.warn(name, "deadline", msg("warn.deadline_skipped", stage=name,
                                           seconds=f"{ctx.options.limits.max_seconds:g}"))
            continue
        if on_stage:
            on_stage(name)
        if progress is not None:
            progress.start(name, ctx)
        t0 = time.perf_counter()
        if name in DEADLINE_SKIPPABLE:
            ctx.bounded_stage = name  # ctx.checkpoint() stops it at the deadline
        try:
            runner(ctx)
            info["status"] = "ok"
        except DeadlineReached:
            # stopped part-way: a warning; what the stage computed before is kept and written below
            info["status"] = "stopped"
            info["reason"] = "deadline"
            ctx.warn(name, "deadline", msg("warn.deadline_stopped", stage=name,
                                           seconds=f"{ctx.options.limits.max_seconds:g}"))
        except FirmpassError as e:
            info["status"] = "failed"
            if name in FATAL:
                info["seconds"] = round(time.perf_counter() - t0, 3)
                write_findings(ctx)
                raise
            info["error"] = e.text.en
            ctx.warn(name, "stage_failed", msg("warn.stage_failed", stage=name, detail=e.text))
        except Exception as e:  # noqa: BLE001 - one stage's bug must not lose the others' results
            info["status"] = "failed"
            info["error"] = exc_detail(e)
            if name in FATAL:
                info["seconds"] = round(time.perf_counter() - t0, 3)
                write_findings(ctx)  # what was read before the failure stays on disk
                raise InternalError(name, e, ctx.out) from e
            ctx.warn(name, "stage_failed", msg("warn.stage_failed", stage=name, detail=exc_detail(e)))
        finally:
            ctx.bounded_stage = None
        info["seconds"] = round(time.perf_counter() - t0, 3)
        write_findings(ctx)
        if progress is not None:
            progress.done(name, ctx, info)
    ctx.result.tool.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_findings(ctx)
    if progress is not None:
        progress.finished(ctx)
    return ctx


def scan(image: Path, out: Path, options: ScanOptions | None = None,
         on_stage: Callable[[str], None] | None = None, stages: list[str] | None = None,
         progress=None) -> ScanContext:
    """Library entry point (the CLI and a future web app call this)."""
    ctx = new_context(image, out, options)
    return run_stages(ctx, stages or STAGES, on_stage, progress)

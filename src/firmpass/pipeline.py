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
from typing import Any, Callable

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
    lock = OutLock(out.resolve(), [image, opts.profile_path, *opts.vex_files, opts.decisions_file, opts.db_path]).acquire()
    try:
        ctx = _new_context(image, out, opts)
    except BaseException:
        lock.release()
        raise
    ctx.scratch["outlock"] = lock
    ctx.tmp = lock.tmp
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


def pdf_wanted(out: Path, choice: bool | None, default: bool) -> bool:
    """Whether `assess` / `report` re-render the PDF: --pdf / --no-pdf when given, else what the scan
    in OUT chose (its report stage recorded the files it wrote in findings.json; a report.pdf left
    in OUT says the same), else `default` (no report was written there yet)."""
    if choice is not None:
        return choice
    if (out / "report.pdf").is_file():
        return True
    try:
        import json

        data = json.loads((out / "findings.json").read_text(encoding="utf-8"))
        files = ((data.get("tool") or {}).get("stages") or {}).get("report", {}).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    if isinstance(files, list):
        return "report.pdf" in files
    return default


def load_context(out: Path, options: ScanOptions | None = None, notes: list | None = None) -> ScanContext:
    """A saved scan directory as a context to run stages on: the one way to resume a scan (`firmpass
    assess`, `firmpass report`, a web app), e.g. `run_stages(load_context(OUT), ["assess", "report"])`.

    findings.json in any schema_version (present.load.load_result), assessment.json when present
    (ctx.assessment), and the profile: `options.profile_path`, else the one the saved assessment
    recorded (present.load.recorded_profile; `notes` collects what to tell the user about it).  OUT is not
    locked and nothing in it is removed: the stages that run rewrite only their own outputs."""
    from firmpass.present.load import load_assessment, load_profile_file, load_result, recorded_profile

    out = Path(out)
    if not out.is_dir():
        raise UnusableInput("err.bad_scan_dir", path=str(out))
    result = load_result(out)
    opts = options or ScanOptions()
    assessment = load_assessment(out)
    if opts.profile_path is None and assessment is not None:
        opts.profile_path = recorded_profile(out, notes)
    ctx = ScanContext(image=Path(result.image.path), out=out.resolve(), result=result, options=opts)
    ctx.assessment = assessment
    if opts.profile_path is not None:
        require_file(Path(opts.profile_path))
        ctx.profile = load_profile_file(Path(opts.profile_path))
    return ctx


def run_stages(ctx: ScanContext, stages: list[str], on_stage: Callable[[str], None] | None = None,
               progress=None, fatal: set[str] | frozenset[str] = frozenset()) -> ScanContext:
    """Run `stages` in order on `ctx` (a new scan: new_context; a saved one: load_context).

    `progress` (a firmpass.progress reporter) is told when each stage starts and ends.  A stage in
    FATAL or in `fatal` that fails raises; any other failure is a warning and the next stage runs.
    A stage run again on a loaded scan replaces its earlier warnings."""
    try:
        return _run_stages(ctx, stages, on_stage, progress, FATAL | set(fatal))
    finally:
        _at_end(ctx, ok=False)  # only what an interrupted run left (a PDF child): stopped
        lock = ctx.scratch.pop("outlock", None)  # OUT is free again (see firmpass.outdir)
        if lock is not None:
            lock.release()


def _run_one(ctx: ScanContext, name: str, runner: Callable[[ScanContext], None], info: dict[str, Any],
             fatal: bool) -> None:
    """Run stage NAME and record in INFO how it ended and how long it took.  A stage stopped by the
    deadline or failing is a warning and the scan goes on, unless the stage is FATAL: then what was
    computed is written and the error raised."""
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
        if fatal:
            info["seconds"] = round(time.perf_counter() - t0, 3)
            write_findings(ctx)
            raise
        info["error"] = e.text.en
        ctx.warn(name, "stage_failed", msg("warn.stage_failed", stage=name, detail=e.text))
    except Exception as e:  # noqa: BLE001 - one stage's bug must not lose the others' results
        info["status"] = "failed"
        info["error"] = exc_detail(e)
        if fatal:
            info["seconds"] = round(time.perf_counter() - t0, 3)
            write_findings(ctx)  # what was read before the failure stays on disk
            raise InternalError(name, e, ctx.out) from e
        ctx.warn(name, "stage_failed", msg("warn.stage_failed", stage=name, detail=exc_detail(e)))
    finally:
        ctx.bounded_stage = None
    info["seconds"] = round(time.perf_counter() - t0, 3)


def _run_stages(ctx: ScanContext, stages: list[str], on_stage: Callable[[str], None] | None,
                progress, fatal: set[str]) -> ScanContext:
    for name in stages:
        runner = stage_runner(name)
        info = ctx.result.tool.stages.setdefault(name, {})
        if "status" in info:  # run before (a loaded scan): this run's record replaces that one
            info.clear()
        ctx.result.warnings = [w for w in ctx.result.warnings if w.stage != name]
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
        _run_one(ctx, name, runner, info, name in fatal)
        write_findings(ctx)
        if progress is not None:
            progress.done(name, ctx, info)
    _at_end(ctx, ok=True)
    ctx.result.tool.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_findings(ctx)
    if progress is not None:
        progress.finished(ctx)
    return ctx


def _at_end(ctx: ScanContext, ok: bool) -> None:
    """Work a stage left running in the background (the report stage's PDF child) is joined before
    the scan ends, or stopped when the scan is abandoned: `ctx.scratch["at_end"]`, fn(ctx, ok)."""
    for fn in ctx.scratch.pop("at_end", []):
        fn(ctx, ok)


def scan(image: Path, out: Path, options: ScanOptions | None = None,
         on_stage: Callable[[str], None] | None = None, stages: list[str] | None = None,
         progress=None) -> ScanContext:
    """Library entry point (the CLI and a future web app call this)."""
    ctx = new_context(image, out, options)
    return run_stages(ctx, stages or STAGES, on_stage, progress)

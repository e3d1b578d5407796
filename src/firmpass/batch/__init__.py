"""Many images at once: every scan is a task on a Dask distributed cluster.

    from firmpass.batch import run_batch
    index = run_batch(Path("images/"), Path("out/"), workers=2)           # a LocalCluster started here
    index = run_batch(images, out, scheduler="tcp://10.0.0.5:8786")       # an existing cluster
    index = run_batch(images, out, client=my_client)                      # a Client the caller owns

- one task per image (`scan_task`): firmpass.pipeline.scan into OUT/<name>/, the image's own
  directory; `<name>` is the image's path relative to DIR (or its file name, for a list), made safe;
- a task that raises is run once more (`retries=1`); a worker that dies mid-scan (killed, out of
  memory) has its scan run again on another worker: the LocalCluster started here allows one such
  loss per task (`distributed.scheduler.allowed-failures` = 1), so a scan that kills two workers
  fails instead of taking the cluster down one worker at a time.  An existing scheduler keeps its own
  setting (Dask's default is 3);
- resumable: an image whose directory holds the marker `.firmpass-batch.json` for the same image
  (same size and modification time) is skipped; a scan that was killed leaves no marker, so it runs
  again (OUT/<name> is reused: firmpass.outdir removes what the killed run left);
- progress: every task appends JSON lines to OUT/progress.jsonl as each stage starts and ends
  (`{"event": "start"|"done", "image", "stage", "worker", ...}`), the batch adds `queued`, `skipped`,
  `end` and `failed` lines; `read_progress()` folds the file into the state of each image;
- at the end (and every minute while a long batch runs) OUT/index.json and OUT/index.html (English and Chinese side by side): per image its
  status, counts, exploited vulnerabilities and readiness per market, with a link to its report.

The workers read the images and write the outputs by path: a cluster on several machines needs the
same paths on all of them (a shared file system; docs/scale.md has the plan with object storage).
Inside one process the pipeline's temporary directory is process-wide (firmpass.outdir), so scans
that share a process (threads, or a `processes=False` cluster) run one at a time; the command line
starts one single-threaded worker process per core, which run in parallel.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from firmpass.context import ScanOptions
from firmpass.errors import FirmpassError
from firmpass.model import Text

MARKER = ".firmpass-batch.json"
PROGRESS = "progress.jsonl"
INDEX_JSON, INDEX_HTML = "index.json", "index.html"
MAX_IMAGES = 100_000
INDEX_EVERY = 60.0  # seconds between rewrites of the index while a batch runs
MAX_LIST_BYTES = 4 * 1024 * 1024
SKIP_DIRS = {".git", "__pycache__"}
_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@lru_cache(maxsize=None)
def _catalogue() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(resources.files(__package__).joinpath("messages.yaml").read_text(encoding="utf-8"))
    for key, entry in data.items():
        if not (isinstance(entry, dict) and entry.get("en") and entry.get("zh")):
            raise ValueError(f"batch message {key!r} lacks en or zh")
    return data


def text(key: str, **kw) -> Text:
    from firmpass.i18n import fill

    e = _catalogue()[key]
    return fill(e["en"], e["zh"], kw)


class BatchError(FirmpassError):
    """A batch that cannot start: one bilingual line, exit 2."""

    def __init__(self, key: str, **kw):
        self.text = text(key, **kw)
        Exception.__init__(self, self.text.en)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


# ------------------------------------------------------------------------------------------ the images
@dataclass(frozen=True)
class Job:
    image: Path
    name: str  # OUT/<name> is this image's output directory

    def out(self, root: Path) -> Path:
        return root / self.name


def _regular(p: Path) -> bool:
    import stat

    try:
        return stat.S_ISREG(os.lstat(p).st_mode)
    except OSError:
        return False


def find_images(source: Path, out: Path | None = None) -> list[tuple[Path, str]]:
    """(image, relative name) for every image of DIR (regular files at any depth, links and hidden
    entries skipped, the output directory left out) or of a LIST file (one path per line, `#` comments,
    relative paths against the list's folder)."""
    found: list[tuple[Path, str]] = []
    out_r = out.resolve() if out is not None else None
    if source.is_dir():
        root = source.resolve()
        for cur, dirs, files in os.walk(root, followlinks=False):
            here = Path(cur)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS
                             and (out_r is None or (here / d).resolve() != out_r))
            for f in sorted(files):
                p = here / f
                if f.startswith(".") or not _regular(p):
                    continue
                found.append((p, str(p.relative_to(root))))
                if len(found) > MAX_IMAGES:
                    raise BatchError("batch.err.not_a_list", path=str(source), line=len(found),
                                     detail=f"more than {MAX_IMAGES} images")
    elif source.is_file():
        if source.stat().st_size > MAX_LIST_BYTES:
            raise BatchError("batch.err.not_a_list", path=str(source), line=0, detail="larger than 4 MiB")
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise BatchError("batch.err.not_a_list", path=str(source), line=0, detail="not UTF-8 text") from None
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            p = Path(line) if os.path.isabs(line) else source.resolve().parent / line
            if not p.is_file():
                raise BatchError("batch.err.not_a_list", path=str(source), line=n, detail=f"no such file: {line[:200]}")
            found.append((p, p.name))
            if len(found) > MAX_IMAGES:
                raise BatchError("batch.err.not_a_list", path=str(source), line=n, detail=f"more than {MAX_IMAGES} images")
    else:
        from firmpass.errors import UnusableInput

        raise UnusableInput("err.no_such_file", path=str(source))
    if not found:
        raise BatchError("batch.err.no_images", path=str(source))
    return found


def plan(found: list[tuple[Path, str]], out: Path) -> list[Job]:
    """One Job per image with a directory name that is safe (no separators, no dot-dot, bounded) and
    stable across runs (the same DIR or LIST gives the same names, which is what resuming needs)."""
    import hashlib

    jobs: list[Job] = []
    used: set[str] = set()
    out_r = out.resolve()
    for image, rel in found:
        ir = image.resolve()
        if ir == out_r or ir.is_relative_to(out_r):
            raise BatchError("batch.err.out_inside", out=str(out))
        base = _SAFE.sub("_", rel.replace(os.sep, "__")).strip("._") or "image"
        base = base[:120]
        name = base
        if name.lower() in used or name in (PROGRESS, INDEX_JSON, INDEX_HTML):
            name = f"{base}-{hashlib.sha256(rel.encode()).hexdigest()[:10]}"
        used.add(name.lower())
        jobs.append(Job(ir, name))
    return jobs


def _identity(image: Path) -> dict[str, int]:
    st = image.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_marker(out_dir: Path) -> dict[str, Any] | None:
    try:
        m = json.loads((out_dir / MARKER).read_text(encoding="utf-8"))
        return m if isinstance(m, dict) else None
    except (OSError, ValueError):
        return None


def is_complete(job: Job, root: Path) -> bool:
    """The image's directory holds a finished scan of this very image (same size and mtime), or the
    verdict that it is not usable as firmware; anything else (no marker, killed, failed) runs again."""
    m = read_marker(job.out(root))
    if not m or m.get("status") not in ("done", "unusable"):
        return False
    try:
        ident = _identity(job.image)
    except OSError:
        return False
    if m.get("image", {}).get("size") != ident["size"] or m.get("image", {}).get("mtime_ns") != ident["mtime_ns"]:
        return False
    return m["status"] == "unusable" or (job.out(root) / "findings.json").is_file()


# ------------------------------------------------------------------------------------------ progress
def append_line(path: Path, obj: dict[str, Any]) -> None:
    """One JSON line appended with a single write() on an O_APPEND descriptor: lines from several
    worker processes never interleave (each is far below the size the kernel writes at once)."""
    data = (json.dumps(obj, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid:{os.getpid()}"


class FileProgress:
    """A pipeline progress reporter (firmpass.progress interface) writing to OUT/progress.jsonl."""

    def __init__(self, path: Path, name: str, worker: str):
        self.path, self.name, self.worker = path, name, worker

    def _emit(self, obj: dict[str, Any]) -> None:
        append_line(self.path, {"t": now_iso(), "image": self.name, "worker": self.worker, "pid": os.getpid(), **obj})

    def start(self, stage: str, ctx) -> None:
        self._emit({"event": "start", "stage": stage})

    def done(self, stage: str, ctx, info: dict[str, Any]) -> None:
        from firmpass.progress import counts

        self._emit({"event": "done", "stage": stage, "status": info.get("status"), "seconds": info.get("seconds"),
                    "counts": counts(stage, ctx)})

    def finished(self, ctx) -> None:
        return None


def read_progress(path: Path) -> dict[str, dict[str, Any]]:
    """OUT/progress.jsonl folded into each image's latest state: status (queued, running, done,
    unusable, failed, skipped), the stage running or last done, the stages done, the attempts (one per
    worker that began it) and the worker.  A line cut by a crash is ignored."""
    state: dict[str, dict[str, Any]] = {}
    try:
        fh = open(path, encoding="utf-8")
    except OSError:
        return state
    with fh:
        for line in fh:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if not isinstance(e, dict) or "image" not in e:
                continue
            s = state.setdefault(e["image"], {"status": "queued", "stage": None, "stages_done": [], "attempts": 0,
                                              "worker": None, "workers": []})
            ev = e.get("event")
            if ev == "begin":
                s.update(status="running", stage=None, stages_done=[], worker=e.get("worker"))
                s["attempts"] += 1
                s["workers"].append(e.get("worker"))
            elif ev == "start":
                s.update(status="running", stage=e.get("stage"), worker=e.get("worker"))
            elif ev == "done":
                s["stages_done"].append(e.get("stage"))
            elif ev in ("end", "failed", "skipped"):
                s["status"] = e.get("status") or ev
                s["stage"] = None
    return state


# ------------------------------------------------------------------------------------------ the task
def summarize(ctx) -> dict[str, Any]:
    r = ctx.result
    sev: dict[str, int] = {}
    for f in r.findings:
        sev[f.severity] = sev.get(f.severity, 0) + 1
    markets = {}
    for m, s in ((getattr(ctx, "assessment", None) or {}).get("summary") or {}).items():
        markets[m] = {"score": s.get("score"), "label": s.get("label"),
                      "not_met": (s.get("counts") or {}).get("not_met", 0)}
    return {"files": len(r.files), "components": len(r.components), "vulnerabilities": len(r.vulnerabilities),
            "exploited": sum(1 for v in r.vulnerabilities if v.is_exploited and v.vex.state in ("affected", "under_investigation")),
            "findings": len(r.findings), "findings_by_severity": sev, "markets": markets,
            "warnings": len(r.warnings), "sha256": r.image.sha256}


def scan_task(image: str, out: str, options: ScanOptions | None, progress_path: str, name: str) -> dict[str, Any]:
    """One image scanned into its own directory; run on a Dask worker (or anywhere).  Returns a small
    summary; writes OUT/<name>/.firmpass-batch.json last, so only a scan that ended has one.  Unusable
    input is an answer (status "unusable"), not a failure to retry; an exception is (Dask retries it)."""
    from firmpass.errors import InternalError
    from firmpass.i18n import exc_detail
    from firmpass.pipeline import scan

    img, o, pp = Path(image), Path(out), Path(progress_path)
    worker = _worker_name()
    prog = FileProgress(pp, name, worker)
    prog._emit({"event": "begin"})
    t0 = time.perf_counter()
    ident = _identity(img)
    o.mkdir(parents=True, exist_ok=True)
    try:
        (o / MARKER).unlink()
    except FileNotFoundError:
        pass
    # no lock: a scan's temporary directory is its own (ctx.tmp, firmpass.outdir), so scans in threads
    # of one process (in-process Dask workers, the server) run side by side
    try:
        ctx = scan(img, o, options, progress=prog)
        status, summary, error = "done", summarize(ctx), None
    except InternalError as e:
        status, summary, error = "failed", {}, e.text.model_dump()
    except FirmpassError as e:
        status, summary, error = "unusable", {}, e.text.model_dump()
    except Exception as e:
        prog._emit({"event": "error", "detail": exc_detail(e)})
        raise
    seconds = round(time.perf_counter() - t0, 3)
    marker = {"tool": "firmpass", "image": {"path": str(img), **ident}, "name": name, "status": status,
              "seconds": seconds, "worker": worker, "finished": now_iso(), "summary": summary, "error": error}
    if status != "failed":
        tmp = o / (MARKER + ".tmp")
        tmp.write_text(json.dumps(marker, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, o / MARKER)
    prog._emit({"event": "end", "status": status, "seconds": seconds})
    return marker


# ------------------------------------------------------------------------------------------ the cluster
@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, processes: bool = True
                ) -> Iterator[tuple[Any, str]]:
    """A Client on an existing scheduler, or on a LocalCluster started (and closed) here: one
    single-threaded worker per core by default, on 127.0.0.1 only (the scheduler's HTTP endpoint
    on a free port), no memory limit (the scan bounds its
    own work; Dask's default would pause a worker at 80% of its share)."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as e:
            raise BatchError("batch.err.scheduler", address=scheduler, detail=str(e) or type(e).__name__) from None
        try:
            yield client, scheduler
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise BatchError("batch.err.workers", n=n)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        # worker processes talk TCP on the loopback only; in-process workers use Dask's inproc transport
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                               **({"host": "127.0.0.1"} if processes else {}), dashboard_address="127.0.0.1:0",
                               memory_limit=0, silence_logs=logging.ERROR, scheduler_port=0)
        try:
            client = Client(cluster)
            try:
                kind = "processes" if processes else "threads"
                yield client, f"LocalCluster {n} worker(s), {kind}"
            finally:
                client.close()
        finally:
            cluster.close()


def _submit_all(c: Any, todo: list[Job], out: Path, options: ScanOptions | None, progress: Path) -> dict[Any, Job]:
    """Queue one scan task per job on client C (each retried once on another worker); future -> job."""
    futs = {}
    for j in todo:
        append_line(progress, {"t": now_iso(), "image": j.name, "event": "queued"})
        f = c.submit(scan_task, str(j.image), str(j.out(out)), options, str(progress), j.name,
                     key=f"firmpass-scan-{j.name}-{uuid.uuid4().hex[:8]}", pure=False, retries=1)
        futs[f] = j
    return futs


def _failed_result(j: Job, e: BaseException, progress: Path) -> dict[str, Any]:
    """The index row of a task that raised E (recorded in the progress log too)."""
    from firmpass.i18n import exc_detail

    d = exc_detail(e)  # a library's own message: the same text in both halves
    res = {"name": j.name, "status": "failed", "error": {"en": d, "zh": d},
           "image": {"path": str(j.image)}, "summary": {}}
    append_line(progress, {"t": now_iso(), "image": j.name, "event": "failed", "status": "failed",
                           "detail": res["error"]["en"]})
    return res


def run_batch(source: Path | list[tuple[Path, str]], out: Path, options: ScanOptions | None = None, *,
              scheduler: str | None = None, workers: int | None = None, processes: bool = True, client=None,
              force: bool = False, on_event: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Scan every image of `source` (a DIR, a LIST file, or (path, name) pairs) into OUT/<name>;
    returns the index (also written to OUT/index.json and OUT/index.html).  `on_event(kind, data)` is
    told "plan" (totals), then "result" per image as it ends."""
    out.mkdir(parents=True, exist_ok=True)
    found = find_images(source, out) if isinstance(source, Path) else source
    jobs = plan(found, out)
    progress = out / PROGRESS
    t0 = time.perf_counter()
    todo, skipped = [], []
    for j in jobs:
        (skipped if not force and is_complete(j, out) else todo).append(j)
    for j in skipped:
        append_line(progress, {"t": now_iso(), "image": j.name, "event": "skipped", "status": "skipped"})
    results: dict[str, dict[str, Any]] = {}

    def go(c, label: str) -> None:
        if on_event:
            on_event("plan", {"total": len(jobs), "todo": len(todo), "skipped": len(skipped), "cluster": label})
        from distributed import as_completed

        futs = _submit_all(c, todo, out, options, progress)
        last = time.monotonic()
        for f in as_completed(list(futs)):
            j = futs[f]
            try:
                res = f.result()
            except Exception as e:  # noqa: BLE001 - retried once already (or lost a worker twice): recorded
                res = _failed_result(j, e, progress)
            results[j.name] = res
            if time.monotonic() - last > INDEX_EVERY:  # a long batch keeps an index of what is done so far
                write_index(out, build_index(out, jobs, results, {x.name for x in skipped},
                                             round(time.perf_counter() - t0, 3),
                                             pending={x.name for x in todo} - set(results)))
                last = time.monotonic()
            if on_event:
                on_event("result", {"n": len(results), "total": len(todo), **res})

    if todo:
        if client is not None:
            go(client, "client")
        else:
            with dask_client(scheduler, workers, processes) as (c, label):
                go(c, label)
    elif on_event:
        on_event("plan", {"total": len(jobs), "todo": 0, "skipped": len(skipped), "cluster": "-"})
    index = build_index(out, jobs, results, {j.name for j in skipped}, round(time.perf_counter() - t0, 3))
    write_index(out, index)
    return index


# ------------------------------------------------------------------------------------------ the index
def build_index(out: Path, jobs: list[Job], results: dict[str, dict[str, Any]], skipped: set[str],
                seconds: float, pending: set[str] | None = None) -> dict[str, Any]:
    """`pending`: images still queued or running (an index written while the batch runs)."""
    rows = []
    for j in jobs:
        if pending and j.name in pending:
            m = {"status": "pending", "summary": {}}
        else:
            m = results.get(j.name) or read_marker(j.out(out)) or {"status": "failed", "summary": {}}
        status = "skipped" if j.name in skipped else m.get("status", "failed")
        d = j.out(out)
        rows.append({"name": j.name, "image": str(j.image), "dir": j.name, "status": status,
                     "scan_status": m.get("status"), "seconds": m.get("seconds"), "worker": m.get("worker"),
                     "finished": m.get("finished"), "summary": m.get("summary") or {}, "error": m.get("error"),
                     "report": f"{j.name}/report.html" if (d / "report.html").is_file() else None})
    tot = {"images": len(rows), "done": sum(r["status"] == "done" for r in rows),
           "skipped": sum(r["status"] == "skipped" for r in rows),
           "failed": sum(r["status"] in ("failed", "unusable") for r in rows),
           "pending": sum(r["status"] == "pending" for r in rows),
           "vulnerabilities": sum(r["summary"].get("vulnerabilities", 0) for r in rows),
           "exploited": sum(r["summary"].get("exploited", 0) for r in rows)}
    markets = sorted({m for r in rows for m in r["summary"].get("markets", {})},
                     key=lambda m: ["eu", "uk", "us", "cn"].index(m) if m in ("eu", "uk", "us", "cn") else 9)
    return {"tool": "firmpass", "generated": now_iso(), "out": str(out), "seconds": seconds, "totals": tot,
            "markets": markets, "images": rows}


def write_index(out: Path, index: dict[str, Any]) -> list[Path]:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from firmpass.present.i18n import t

    env = Environment(loader=PackageLoader("firmpass.batch", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(m=text, t=t)
    css = resources.files("firmpass.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    html = env.get_template("index.html.j2").render(d=index, css=css)
    pj, ph = out / INDEX_JSON, out / INDEX_HTML
    for p, body in ((pj, json.dumps(index, indent=1, ensure_ascii=False, default=str)), (ph, html)):
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, p)
    return [pj, ph]

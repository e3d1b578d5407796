"""Scans as tasks on a Dask distributed cluster.

`scan_task` is a plain module-level function so any worker that has firmpass installed can run it
(a LocalCluster in the server's process by default, or an existing scheduler given by
`--scheduler tcp://...`).  It reads only the stored image and the inputs the server wrote beside the
scan's directory, writes the scan into that directory and its stage-by-stage progress into
OUT/../progress-<id>.jsonl (one JSON object per line, firmpass.progress.JsonProgress), which the
page polls.  Dask retries a task once when its worker dies (`retries=1`); the server also re-queues
scans left `queued`/`running` when it starts, so a killed server or worker loses no upload.
"""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any, Callable


def scan_task(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one scan; returns its counts.  Raises on unusable input (the server records the error)."""
    from firmpass.context import ScanOptions
    from firmpass.pipeline import scan
    from firmpass.progress import JsonProgress

    out = Path(spec["out"])
    if out.exists():  # a retry starts from a clean directory (an earlier attempt may have died mid-stage)
        shutil.rmtree(out)
    progress_file = Path(spec["progress"])
    opts = ScanOptions(profile_path=Path(spec["profile"]) if spec.get("profile") else None,
                       db_path=spec.get("vulns_db"), pdf=bool(spec.get("pdf", False)), progress=False,
                       vex_files=[Path(p) for p in spec.get("vex", [])],
                       markets=spec.get("markets") or ["eu", "uk", "us", "cn"])
    with open(progress_file, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "attempt"}) + "\n")
        fh.flush()
        ctx = scan(Path(spec["image"]), out, opts, progress=JsonProgress(stream=fh))
    r = ctx.result
    return {"files": len(r.files), "components": len(r.components), "vulnerabilities": len(r.vulnerabilities),
            "findings": len(r.findings), "exploited": sum(1 for v in r.vulnerabilities if v.is_exploited),
            "warnings": len(r.warnings)}


def read_progress(path: Path) -> list[dict[str, Any]]:
    """The stages of the newest attempt, in order: {stage, status ('running'|'ok'|...), seconds, counts}."""
    stages: dict[str, dict[str, Any]] = {}
    finished = False
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a line being written
        kind = ev.get("event")
        if kind == "attempt":
            stages, finished = {}, False
        elif kind == "start":
            stages[ev["stage"]] = {"stage": ev["stage"], "status": "running"}
        elif kind == "done":
            stages[ev["stage"]] = {"stage": ev["stage"], "status": ev.get("status") or "ok",
                                   "seconds": ev.get("seconds"), "counts": ev.get("counts") or {}}
        elif kind == "finished":
            finished = True
    out = list(stages.values())
    if finished and out and out[-1]["status"] == "running":
        out[-1]["status"] = "ok"
    return out


class Runner:
    """One Dask client for the server's lifetime."""

    def __init__(self, scheduler: str | None = None, workers: int = 1):
        from distributed import Client, LocalCluster

        self._lock = threading.Lock()
        self._futures: dict[int, Any] = {}
        if scheduler:
            self.cluster = None
            self.client = Client(scheduler, timeout="20s")
        else:
            # in the server's process: threads, no extra processes, no dashboard port
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                                        dashboard_address=None)
            self.client = Client(self.cluster)

    def submit(self, scan_id: int, spec: dict[str, Any], on_done: Callable[[int, dict | None, str | None], None]) -> None:
        import uuid

        fut = self.client.submit(scan_task, spec, key=f"firmpass-scan-{scan_id}-{uuid.uuid4().hex[:8]}",
                                 retries=1, pure=False)
        with self._lock:
            self._futures[scan_id] = fut

        def done(f) -> None:
            with self._lock:
                self._futures.pop(scan_id, None)
            try:
                res = f.result()
                on_done(scan_id, res, None)
            except BaseException as e:  # noqa: BLE001 - the scan's failure is recorded, never raised here
                from firmpass.errors import FirmpassError
                from firmpass.i18n import exc_detail

                on_done(scan_id, None, e.text.en if isinstance(e, FirmpassError) else exc_detail(e))

        fut.add_done_callback(done)

    def pending(self) -> int:
        with self._lock:
            return len(self._futures)

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

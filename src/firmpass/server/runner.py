"""Scans as tasks on a Dask distributed cluster: the same task `firmpass batch` runs
(`firmpass.batch.scan_task`), on the same kind of cluster (`firmpass.batch.dask_client`): a
LocalCluster in the server's process by default (`--workers N` single-threaded workers, N scans at
once: a scan's temporary directory is its own, firmpass.outdir), a LocalCluster of worker processes
(`--processes`: a worker killed mid-scan costs only that attempt), or an existing scheduler given by
`--scheduler tcp://...`, whose workers need firmpass and the server's data directory at the same path.

The task writes the scan into DATA/scans/<id>/out and its stage-by-stage progress as JSON lines into
DATA/scans/<id>/progress.jsonl (begin / start / done / end), which the scan page polls through
`read_progress`.  Dask runs a task again when its worker dies (`retries=1`, allowed-failures 1); the
server also submits scans left `queued`/`running` when it starts, so a killed server or worker loses
no upload.
"""
from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable


def scan_task(spec: dict[str, Any]) -> dict[str, Any]:
    """One scan of the server (run where the cluster puts it): batch's task with the server's inputs.
    Returns batch's marker: {"status": done|unusable|failed, "summary": {...}, "error": Text|None, ...}."""
    from firmpass.batch import scan_task as batch_scan_task
    from firmpass.context import ScanOptions

    opts = ScanOptions(profile_path=Path(spec["profile"]) if spec.get("profile") else None,
                       db_path=spec.get("vulns_db"), pdf=bool(spec.get("pdf", False)), progress=False,
                       vex_files=[Path(p) for p in spec.get("vex", [])],
                       decisions_file=Path(spec["decisions"]) if spec.get("decisions") else None,
                       markets=spec.get("markets") or ["eu", "uk", "us", "cn"])
    return batch_scan_task(spec["image"], spec["out"], opts, spec["progress"], spec.get("name") or "scan")


def read_progress(path: Path) -> list[dict[str, Any]]:
    """The stages of the newest attempt, in order: {stage, status ('running'|'ok'|...), seconds, counts}."""
    stages: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        kind = ev.get("event") if isinstance(ev, dict) else None
        if kind == "begin":  # a new attempt (Dask retried the task, or the server resubmitted it)
            stages = {}
        elif kind == "start":
            stages[ev["stage"]] = {"stage": ev["stage"], "status": "running"}
        elif kind == "done":
            stages[ev["stage"]] = {"stage": ev["stage"], "status": ev.get("status") or "ok",
                                   "seconds": ev.get("seconds"), "counts": ev.get("counts") or {}}
    return list(stages.values())


class Runner:
    """One Dask client for the server's lifetime."""

    def __init__(self, scheduler: str | None = None, workers: int = 1, processes: bool = False):
        from firmpass.batch import dask_client

        self._lock = threading.Lock()
        self._futures: dict[int, Any] = {}
        self._stack = ExitStack()
        self.client, self.label = self._stack.enter_context(dask_client(scheduler, workers, processes=processes))

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
            except BaseException as e:  # noqa: BLE001 - the scan's failure is recorded, never raised here
                from firmpass.i18n import exc_detail

                on_done(scan_id, None, exc_detail(e))
                return
            finish(scan_id, res, on_done)

        fut.add_done_callback(done)

    def pending(self) -> int:
        with self._lock:
            return len(self._futures)

    def close(self) -> None:
        self._stack.close()


def finish(scan_id: int, marker: dict[str, Any], on_done: Callable[[int, dict | None, str | None], None]) -> None:
    """batch's marker -> the server's (summary, error): unusable input or an internal error is a failed scan."""
    if marker.get("status") == "done":
        on_done(scan_id, marker.get("summary") or {}, None)
    else:
        err = marker.get("error") or {}
        text = f"{err.get('en')} / {err.get('zh')}" if isinstance(err, dict) and err.get("en") else str(err or "")
        on_done(scan_id, None, text or str(marker.get("status")))

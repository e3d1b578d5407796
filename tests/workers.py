"""Killing a Dask worker in the middle of a scan, for the batch and server tests that show a killed
worker costs only that attempt: watch the scan's progress.jsonl and SIGKILL the worker process that
starts the given stage."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path


def kill_worker_at_stage(client, progress: Path, stage: str = "inventory", timeout: float = 120) -> dict:
    """SIGKILL the worker that starts `stage` (read from `progress`); returns {worker, pid}, or {} if
    no scan reached that stage within `timeout` seconds."""
    killed: dict = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not killed:
        for line in progress.read_text().splitlines() if progress.exists() else []:
            try:
                e = json.loads(line)
            except ValueError:  # a line being written at this very moment
                continue
            if e.get("event") == "start" and e.get("stage") == stage:
                pids = client.run(os.getpid, workers=[e["worker"]])
                killed.update(worker=e["worker"], pid=pids[e["worker"]])
                os.kill(killed["pid"], signal.SIGKILL)
                break
        time.sleep(0.05)
    return killed

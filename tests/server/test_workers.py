"""The server's Dask workers: two scans run at the same time in threads of the server's process
(a scan's temporary directory is its own, never the process's), and a worker process killed mid-scan
costs only that attempt: the stored upload is kept and the scan is run once more on the other worker."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading

import pytest

from firmpass.batch import read_progress
from firmpass.outdir import TMP
from firmpass.server.runner import Runner, scan_task
from tests.workers import kill_worker_at_stage

pytestmark = pytest.mark.corpus


def _result(out) -> tuple[set, set, list]:
    """What a scan found: files (path, sha256), components, finding checks."""
    f = json.loads((out / "findings.json").read_text())
    return ({(x["path"], x.get("sha256")) for x in f["files"]},
            {(c["name"], c.get("version") or "") for c in f["components"]}, sorted(x["check"] for x in f["findings"]))


def test_two_scans_run_at_once_in_one_process(corpus, tmp_path, monkeypatch):
    """Two in-process workers (threads): each scan waits at its second stage until the other has
    reached it too, so they can finish only if they are inside the pipeline together (with the old
    one-scan-per-process lock the meeting never happens and both scans fail).  Meanwhile the process's
    temp dir is untouched (an empty directory here) and each scan has its own OUT/.tmp; the results
    are those of the same images scanned one after the other."""
    import firmpass.pipeline as pipeline

    real_scan = pipeline.scan
    meet = threading.Barrier(2, timeout=120)
    seen: dict[str, dict] = {}

    def meeting_scan(image, out, options=None, on_stage=None, stages=None, progress=None):
        def stage(name):
            if name == "inventory":
                meet.wait()  # both scans have unpacked and hold their OUT
                seen[str(out)] = {"own_tmp": (out / TMP).is_dir(), "proc_tmp": tempfile.gettempdir(),
                                  "other_tmp_dirs": sum(1 for o in seen_outs if (o / TMP).is_dir())}
        return real_scan(image, out, options, stage, stages, progress)

    monkeypatch.setattr(pipeline, "scan", meeting_scan)
    images = [corpus / "etc.tar.gz", corpus / "www.zip"]
    seen_outs = [tmp_path / f"s{i}" / "out" for i in range(2)]
    results: dict[int, tuple] = {}
    done = threading.Event()

    def on_done(sid, summary, err):
        results[sid] = (summary, err)
        if len(results) == 2:
            done.set()

    runner = Runner(None, workers=2, processes=False)
    # the process's temp dir from here on (after the cluster started: Dask keeps its own scratch there)
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(systmp))
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    try:
        for i, img in enumerate(images):
            d = tmp_path / f"s{i}"
            d.mkdir()  # the server makes DATA/scans/<id> before it submits
            runner.submit(i, {"image": str(img), "out": str(d / "out"), "progress": str(d / "progress.jsonl"),
                              "vulns_db": str(tmp_path / "none.db"), "name": f"scan-{i}"}, on_done)
        assert done.wait(300), results
        assert "threads" in runner.label
    finally:
        runner.close()
    assert all(err is None for _s, err in results.values()), results
    assert len(seen) == 2 and all(v["own_tmp"] and v["proc_tmp"] == str(systmp) and v["other_tmp_dirs"] == 2
                                  for v in seen.values()), seen
    assert os.listdir(systmp) == [] and not any((o / TMP).exists() for o in seen_outs)
    # the same images one after the other give the same components
    monkeypatch.setattr(pipeline, "scan", real_scan)
    for i, img in enumerate(images):
        ref = tmp_path / f"ref{i}"
        scan_task({"image": str(img), "out": str(ref), "progress": str(tmp_path / f"ref{i}.jsonl"),
                   "vulns_db": str(tmp_path / "none.db")})
        got, want = _result(seen_outs[i]), _result(ref)
        assert got == want and len(want[0]) > 10 and want[2]


def test_killed_worker_under_the_server_the_scan_is_run_again(corpus, tmp_path):
    """`firmpass serve --processes --workers 2`: an upload through the API; the worker process running
    its scan is killed (SIGKILL) when the scan starts its second stage; the scan is run again on the
    other worker and ends `done`, the upload still stored under its sha256."""
    from firmpass.server.app import Settings, create_app

    from .conftest import api_user_with_product, wait_scan

    app = create_app(Settings(data=tmp_path / "data", vulns_db=str(tmp_path / "none.db"), secure_cookies=False,
                              workers=2, processes=True))
    srv = app.state.srv
    try:
        api, h, pid = api_user_with_product(app, "Router")
        image = tmp_path / "rootfs-gzip.sqfs"
        shutil.copy(corpus / "rootfs-gzip.sqfs", image)
        with open(image, "rb") as fh:
            r = api.post(f"/api/v1/products/{pid}/versions", files={"file": (image.name, fh)}, data={"label": "2.0"},
                         headers=h)
        assert r.status_code == 201, r.text
        sid = r.json()["scan"]
        client = srv.runner.client
        assert "processes" in srv.runner.label
        prog = srv.scan_dir(sid) / "progress.jsonl"
        killed = kill_worker_at_stage(client, prog)
        assert killed, "the scan never reached its second stage"
        doc = wait_scan(lambda: api.get(f"/api/v1/scans/{sid}", headers=h).json(), timeout=240)
        assert doc["status"] == "done", doc
        st = read_progress(prog)[f"scan-{sid}"]
        assert st["attempts"] == 2 and st["workers"][0] == killed["worker"] and st["workers"][1] != killed["worker"]
        digest = hashlib.sha256(image.read_bytes()).hexdigest()
        assert (tmp_path / "data" / "images" / digest).read_bytes() == image.read_bytes()
        f = json.loads((srv.scan_dir(sid) / "out" / "findings.json").read_text())
        assert f["tool"]["finished"] and len(f["components"]) == doc["summary"]["components"] > 10
        with pytest.raises(ProcessLookupError):
            os.kill(killed["pid"], 0)
    finally:
        srv.close()

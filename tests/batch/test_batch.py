"""`firmpass batch` on Dask: real corpus images, each scanned as a task into its own directory,
progress stage by stage, resumable, the index in both languages; a worker killed mid-scan and the
scan finishing on another worker.  Clusters are closed by the code under test (context managers);
the killed-worker test needs worker processes, the others run in-process."""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from firmpass.batch import MARKER, dask_client, read_progress, run_batch
from firmpass.context import ScanOptions
from firmpass.pipeline import STAGES
from tests.clitool import cli
from tests.workers import kill_worker_at_stage

pytestmark = pytest.mark.corpus
EXPECTED_STAGES = [s for s in STAGES if s != "report"] + ["report"]  # every stage runs


def _opts(tmp: Path) -> ScanOptions:
    return ScanOptions(pdf=False, db_path=str(tmp / "no-store.db"))


@pytest.fixture
def images(tmp_path, corpus) -> Path:
    d = tmp_path / "images"
    (d / "router").mkdir(parents=True)
    shutil.copy(corpus / "etc.tar.gz", d / "router" / "etc.tar.gz")
    shutil.copy(corpus / "www.zip", d / "x<b>y.zip")  # an image name is image-derived text: escaped in the page
    (d / "notes.txt").write_text("release notes, not firmware\n" * 40)
    return d


def test_batch_dir_scans_each_image_into_its_own_directory_then_resumes(images, tmp_path):
    out = tmp_path / "out"
    index = run_batch(images, out, _opts(tmp_path), workers=1, processes=False)
    rows = {r["name"]: r for r in index["images"]}
    assert set(rows) == {"router__etc.tar.gz", "x_b_y.zip", "notes.txt"}
    assert rows["router__etc.tar.gz"]["status"] == "done" and rows["x_b_y.zip"]["status"] == "done"
    assert rows["notes.txt"]["status"] == "unusable" and "text" in rows["notes.txt"]["error"]["en"]
    for name in ("router__etc.tar.gz", "x_b_y.zip"):
        f = json.loads((out / name / "findings.json").read_text())
        assert f["tool"]["finished"] and f["image"]["name"] in ("etc.tar.gz", "x<b>y.zip")
        assert len(f["findings"]) == rows[name]["summary"]["findings"] > 0  # the planted defects of /etc
        assert (out / name / "report.html").is_file() and (out / name / MARKER).is_file()
    # progress: every stage of every image started and ended, in order, on the worker that ran it
    events = [json.loads(x) for x in (out / "progress.jsonl").read_text().splitlines()]
    done = [e["stage"] for e in events if e["image"] == "x_b_y.zip" and e["event"] == "done"]
    assert done == STAGES
    st = read_progress(out / "progress.jsonl")
    assert st["x_b_y.zip"]["status"] == "done" and st["x_b_y.zip"]["attempts"] == 1
    assert st["x_b_y.zip"]["stages_done"] == STAGES and st["notes.txt"]["status"] == "unusable"
    # the index: JSON and a bilingual page that escapes what came from the image
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk["totals"] == {**index["totals"]} and on_disk["totals"]["done"] == 2
    html = (out / "index.html").read_text()
    assert "x&lt;b&gt;y.zip" in html and "x<b>y" not in html
    assert "Batch scan" in html and "批量扫描" in html and 'href="x_b_y.zip/report.html"' in html
    assert "已扫描" in html and "无法作为固件使用" in html

    # a second run scans nothing; an image that changed (newer mtime) is scanned again, alone
    t0 = time.perf_counter()
    again = run_batch(images, out, _opts(tmp_path), workers=1, processes=False)
    assert time.perf_counter() - t0 < 5  # no cluster is started when nothing is to do
    assert {r["status"] for r in again["images"]} == {"skipped"}
    assert {r["name"]: r["summary"].get("findings") for r in again["images"]} == \
        {n: r["summary"].get("findings") for n, r in rows.items()}
    st_ns = os.stat(images / "x<b>y.zip").st_mtime_ns
    os.utime(images / "x<b>y.zip", ns=(st_ns + 10**9, st_ns + 10**9))
    third = run_batch(images, out, _opts(tmp_path), workers=1, processes=False)
    assert {r["name"]: r["status"] for r in third["images"]} == {
        "router__etc.tar.gz": "skipped", "x_b_y.zip": "done", "notes.txt": "skipped"}


def test_killed_scan_is_resumed_not_skipped(images, tmp_path):
    """A directory whose scan never ended (no marker: the process was killed) is scanned again."""
    out = tmp_path / "out"
    run_batch(images, out, _opts(tmp_path), workers=1, processes=False)
    (out / "router__etc.tar.gz" / MARKER).unlink()
    (out / "router__etc.tar.gz" / "findings.json").write_text("{")  # what a killed scan can leave
    idx = run_batch(images, out, _opts(tmp_path), workers=1, processes=False)
    assert {r["name"]: r["status"] for r in idx["images"]}["router__etc.tar.gz"] == "done"
    assert json.loads((out / "router__etc.tar.gz" / "findings.json").read_text())["tool"]["finished"]


def test_cli_batch_list_on_a_local_cluster_of_two_processes(tmp_path, corpus):
    lst = tmp_path / "images.txt"
    lst.write_text(f"# two images\n{corpus / 'etc.tar.gz'}\n{corpus / 'www.zip'}\n")
    out = tmp_path / "out"
    r = cli("batch", str(lst), "-o", str(out), "--workers", "2", "--no-pdf", "--db", str(tmp_path / "none.db"),
            timeout=300)
    assert r.returncode == 0, r.stderr
    assert "batch finished: 2 scanned" in r.stdout and "批量扫描结束" in r.stdout
    assert "LocalCluster 2 worker(s), processes" in r.stderr and "[2/2]" in r.stderr
    idx = json.loads((out / "index.json").read_text())
    assert [x["status"] for x in idx["images"]] == ["done", "done"]
    assert all(x["worker"].startswith("tcp://127.0.0.1:") for x in idx["images"])
    r2 = cli("batch", str(lst), "-o", str(out), "--workers", "2", "--no-pdf", "--db", str(tmp_path / "none.db"))
    assert r2.returncode == 0 and "0 scanned, 2 skipped" in r2.stdout


def test_cli_batch_refuses_bad_input_in_one_line(tmp_path):
    bad = tmp_path / "list.txt"
    bad.write_text("/nonexistent/image.bin\n")
    r = cli("batch", str(bad), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "line 1" in r.stderr and "第 1 行" in r.stderr and "Traceback" not in r.stderr
    r = cli("batch", str(tmp_path), "-o", str(tmp_path / "o"), "--workers", "0")
    assert r.returncode == 2 and "--workers" in r.stderr


def test_killed_worker_mid_scan_the_scan_finishes_on_the_other(tmp_path, corpus):
    """Two worker processes; the one running the scan is killed (SIGKILL) as soon as the scan has begun
    its second stage; the scheduler runs the scan again on the other worker and it completes."""
    out = tmp_path / "out"
    img = tmp_path / "in" / "rootfs-gzip.sqfs"
    img.parent.mkdir()
    shutil.copy(corpus / "rootfs-gzip.sqfs", img)
    with dask_client(workers=2, processes=True) as (client, _label):
        box: dict = {}
        th = threading.Thread(target=lambda: box.setdefault("index", run_batch(img.parent, out, _opts(tmp_path),
                                                                              client=client)))
        th.start()
        killed = kill_worker_at_stage(client, out / "progress.jsonl")
        th.join(240)
        assert not th.is_alive()
    assert killed, "the scan never reached its second stage"
    (row,) = box["index"]["images"]
    assert row["status"] == "done" and row["worker"] != killed["worker"]
    st = read_progress(out / "progress.jsonl")["rootfs-gzip.sqfs"]
    assert st["attempts"] == 2 and st["workers"][0] == killed["worker"] and st["workers"][1] != killed["worker"]
    f = json.loads((out / "rootfs-gzip.sqfs" / "findings.json").read_text())
    assert f["tool"]["finished"] and len(f["components"]) == row["summary"]["components"] > 10
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)


def test_cli_batch_on_an_existing_scheduler(tmp_path, corpus):
    """--scheduler: the command only connects; the cluster (one worker process here) belongs to the test."""
    from distributed import LocalCluster

    img = tmp_path / "in"
    img.mkdir()
    shutil.copy(corpus / "www.zip", img / "www.zip")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        r = cli("batch", str(img), "-o", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                "--no-pdf", "--db", str(tmp_path / "none.db"), timeout=300)
        workers = set(cluster.scheduler_info["workers"])
    assert r.returncode == 0, r.stderr
    assert f"cluster: {cluster.scheduler_address}" in r.stderr
    (row,) = json.loads((tmp_path / "out" / "index.json").read_text())["images"]
    assert row["status"] == "done" and row["worker"] in workers


def test_index_while_a_batch_runs_marks_the_rest_pending(images, tmp_path):
    """The index a long batch rewrites as it goes: finished images with their results, the others pending."""
    from firmpass.batch import build_index, find_images, plan, write_index

    out = tmp_path / "out"
    run_batch(images, out, _opts(tmp_path), workers=1, processes=False)
    jobs = plan(find_images(images, out), out)
    idx = build_index(out, jobs, {}, set(), 1.0, pending={"x_b_y.zip"})
    write_index(out, idx)
    st = {r["name"]: r["status"] for r in idx["images"]}
    assert st == {"router__etc.tar.gz": "done", "x_b_y.zip": "pending", "notes.txt": "unusable"}
    assert idx["totals"]["pending"] == 1 and "排队中或扫描中" in (out / "index.html").read_text()

"""Progress a tool can read (--json-progress) and a quiet run when stderr is not a terminal."""
from __future__ import annotations

import json

from tests.clitool import cli


def test_json_progress_lines_follow_the_stages(corpus, tmp_path):
    out = tmp_path / "o"
    r = cli("unpack", str(corpus / "rootfs-lzo.sqfs"), "-o", str(out), "--json-progress")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert [(e["event"], e.get("stage")) for e in events] == [
        ("start", "unpack"), ("done", "unpack"), ("start", "inventory"), ("done", "inventory"), ("finished", None)]
    files = len(json.loads((out / "findings.json").read_text())["files"])
    done = {e["stage"]: e for e in events if e["event"] == "done"}
    assert done["unpack"]["status"] == "ok" and done["unpack"]["counts"]["files"] == files > 100
    assert all(isinstance(e["seconds"], float) for e in done.values())
    assert events[-1]["counts"]["files"] == files


def test_not_a_terminal_prints_no_progress(corpus, tmp_path):
    r = cli("unpack", str(corpus / "rootfs-lzo.sqfs"), "-o", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert "{" not in r.stderr and "Unpacking" not in r.stderr and "解包" not in r.stderr
    assert r.stdout.count("\n") == 1  # the one result line

"""Benchmark: report.html + report.pdf + evidence (+zip) on a corpus-sized result.

Result: the real corpus rootfs file list (tests/treectx), ~60 components (the corpus packages),
~30 findings on real paths, ~100 vulnerabilities (some KEV), ~250 verdicts.  Target: <= 10 s
beyond the scan.  Printed with a floor measured in the same run (serialising the result to JSON,
which the pipeline does after every stage) as a ratio.

    python -m bench.bench_report
"""
from __future__ import annotations

import copy
import json
import tempfile
import time
from pathlib import Path

import yaml

from firmpass.model import Component, CvssScore, Evidence, Finding, Text, Vulnerability, VexStatement

ROOT = Path(__file__).resolve().parent.parent
FX = ROOT / "tests" / "fixtures" / "report"


def build(out: Path):
    from tests.treectx import context_from_tree

    corpus = ROOT / "tests" / "corpus" / ".cache" / "out"
    ctx = context_from_tree(corpus / "rootfs", out)
    fx = json.loads((FX / "findings.json").read_text(encoding="utf-8"))
    r = ctx.result
    r.image = r.image.model_copy(update={"container_chain": [c for c in
                                  __import__("firmpass.model", fromlist=["ScanResult"]).ScanResult.model_validate(fx).image.container_chain]})
    r.extra = fx["extra"]
    gt = json.loads((corpus / "ground_truth.json").read_text())
    for p in gt["packages"]:
        r.components.append(Component(bom_ref=f"pkg:deb/debian/{p['package']}@{p['version']}", name=p["package"],
                                      version=p["version"], purl=f"pkg:deb/debian/{p['package']}@{p['version']}?arch={p['arch']}",
                                      cpe=f"cpe:2.3:a:*:{p['package']}:{p['version'].split('-')[0]}:*:*:*:*:*:*:*",
                                      supplier="Debian", confidence=1.0))
    files = [f for f in r.files if f.type == "file"]
    sev = ["critical", "high", "medium", "low", "info"]
    for i in range(30):
        f = files[(i * 7) % len(files)]
        r.findings.append(Finding(
            id=f"BENCH-{i:03d}-1", check=f"BENCH-{i:03d}", severity=sev[i % 5],
            title=Text(en=f"Finding {i} in {f.path}", zh=f"在 {f.path} 中发现的问题 {i}"),
            description=Text(en="A realistic sentence describing what was found and why it matters. " * 2,
                             zh="一句描述发现内容及其影响的真实长度的中文说明。" * 2),
            remediation=Text(en="Fix it by doing the right thing in the build.", zh="在构建中采取正确做法加以修复。"),
            evidence=[Evidence(path=f.path, container=f.container, line=j + 1, excerpt="key = ****", sha256="ab" * 32)
                      for j in range(3)], provisions=["en303645:5.1-1", "cra:AnnexI.PartI.2.a"]))
    for i in range(100):
        c = r.components[i % len(r.components)]
        r.vulnerabilities.append(Vulnerability(
            id=f"CVE-2024-{10000 + i}", component=c.bom_ref, component_name=c.name, component_version=c.version,
            severity=sev[i % 4], cvss=[CvssScore(version="3.1", vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                                   base_score=9.8 - (i % 50) / 10)],
            kev={"date_added": "2025-01-01"} if i % 17 == 0 else None, epss={"score": (i % 97) / 100, "percentile": 0.5},
            vex=VexStatement(state=["affected", "not_affected", "fixed", "under_investigation"][i % 4])))
    profile = yaml.safe_load((FX / "profile.yaml").read_text(encoding="utf-8"))
    try:  # the assess stage's own engine: every provision of the four markets (~250 verdicts)
        from firmpass.assess.engine import assess

        a = assess(r, profile, None)
    except ImportError:  # before the assess stage is merged: the fixture's verdicts, repeated
        a = json.loads((FX / "assessment.json").read_text(encoding="utf-8"))
        base = a["verdicts"]
        a["verdicts"] = []
        for i in range(250):
            v = copy.deepcopy(base[i % len(base)])
            v["id"] = f"{v['id']}-{i}"
            v["ref"] = f"{v['framework']}:{v['id']}"
            a["verdicts"].append(v)
    ctx.assessment, ctx.profile = a, profile
    return ctx


def main() -> None:
    from firmpass.evidence import run as evidence_run
    from firmpass.report import run as report_run

    import weasyprint  # noqa: F401 - import cost is part of a real run; measure it separately

    with tempfile.TemporaryDirectory() as d:
        ctx = build(Path(d) / "out")
        r = ctx.result
        t0 = time.perf_counter()
        for _ in range(5):
            r.to_json()
        floor = (time.perf_counter() - t0) / 5
        t0, c0 = time.perf_counter(), time.process_time()
        report_run(ctx)
        t_report, c_report = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        evidence_run(ctx)
        t_evidence, c_evidence = time.perf_counter() - t0, time.process_time() - c0
        import shutil
        if len(__import__("sys").argv) > 1:
            shutil.copy(ctx.out / "report.pdf", __import__("sys").argv[1])
        total = t_report + t_evidence
        pages = __import__("subprocess").run(["pdfinfo", str(ctx.out / "report.pdf")], capture_output=True, text=True).stdout
        pages = next((ln.split()[-1] for ln in pages.splitlines() if ln.startswith("Pages:")), "?")
        print(f"result: {len(r.files)} files, {len(r.components)} components, {len(r.findings)} findings, "
              f"{len(r.vulnerabilities)} vulns, {len(ctx.assessment['verdicts'])} verdicts; PDF {pages} pages")
        print(f"floor (findings.json dump): {floor * 1000:.1f} ms")
        print(f"report (html+pdf): {t_report:.2f} s  evidence (+zip): {t_evidence:.3f} s  total: {total:.2f} s "
              f"(target <= 10 s) ratio to floor: {total / floor:.0f}x  {'OK' if total <= 10 else 'OVER TARGET'}")
        rep = r.tool.stages.get("report") or {}
        print(f"PDF (its own child process, WeasyPrint's import included): {rep.get('pdf_cpu')} CPU-s, "
              f"{rep.get('pdf_pages')} pages (goal: <= 2 s); the report stage also wrote {', '.join(rep.get('tables') or [])}")
        print(f"CPU time of this process: report {c_report:.2f} s, evidence {c_evidence:.3f} s "
              f"(wall time above includes waiting for the CPU when the machine is busy; load {__import__('os').getloadavg()[0]:.1f})")
        font_cache(ctx, Path(d))


def font_cache(ctx, tmp: Path, rounds: int = 3) -> None:
    """The PDF child's CPU seconds on the same HTML without the CJK subset cache (today's behaviour
    before issue 15's cache), with an empty cache (the first run on a machine) and with a filled
    one, interleaved so that load changes touch all three alike; medians printed."""
    import os
    import statistics

    from firmpass.report import render_html
    from firmpass.report.pdfjob import PdfJob
    from firmpass.report.view import Caps

    html = render_html(ctx.result, ctx.assessment, ctx.profile, "both", Caps.for_pdf())
    runs: dict[str, list[float]] = {"off": [], "cold": [], "warm": []}
    old = os.environ.get("FIRMPASS_FONT_CACHE")
    try:
        for i in range(rounds):
            for mode in runs:
                cache = tmp / f"fonts-{i}"
                os.environ["FIRMPASS_FONT_CACHE"] = "off" if mode == "off" else str(cache)
                out = tmp / f"pdf-{mode}-{i}"
                out.mkdir()
                runs[mode].append(PdfJob(out, html).join()["cpu"])
    finally:
        if old is None:
            os.environ.pop("FIRMPASS_FONT_CACHE", None)
        else:
            os.environ["FIRMPASS_FONT_CACHE"] = old
    med = {m: statistics.median(v) for m, v in runs.items()}
    print(f"PDF child CPU-s, median of {rounds}: no font cache {med['off']:.2f}, empty cache {med['cold']:.2f} "
          f"(subsets and stores the CJK font), filled cache {med['warm']:.2f}; "
          f"filled / none = {med['warm'] / med['off']:.2f}  (all: {runs})")


if __name__ == "__main__":
    main()

"""A corpus-like scan result for the assessment tests: the planted defects of tests/corpus/build.sh as
the checks stage reports them (check ids + the provisions each finding serves), components, one KEV
vulnerability and the stage summaries in `extra`."""
from __future__ import annotations

from firmpass.model import (Component, Evidence, Finding, ImageInfo, ScanResult, Text, ToolInfo, VexStatement,
                            Vulnerability)


def _f(fid, check, sev, title, provisions, path, line=None):
    return Finding(id=fid, check=check, severity=sev, title=Text(en=title, zh=title + "（中文）"),
                   description=Text(en=title, zh=title), remediation=Text(en=f"Remove: {title}", zh=f"删除：{title}"),
                   evidence=[Evidence(path=path, line=line)], provisions=provisions)


def planted_findings() -> list[Finding]:
    return [
        _f("CRED-001-1", "CRED-001", "critical", "Default password 'admin' for root in /etc/shadow",
           ["en303645:5.1-1", "psti:PSTI-S1-1", "cra:AnnexI.PartI.2.d", "en18031:AUM-5-1"], "/etc/shadow", 1),
        _f("CRED-002-1", "CRED-002", "high", "Account 'support' has an empty password",
           ["en303645:5.1-1", "psti:PSTI-S1-1"], "/etc/shadow", 3),
        _f("KEY-001-1", "KEY-001", "high", "Private key in the image: /etc/ssl/private/server.key",
           ["en303645:5.4-3", "en303645:5.4-4", "cra:AnnexI.PartI.2.e"], "/etc/ssl/private/server.key"),
        _f("SECRET-001-1", "SECRET-001", "high", "Hard-coded cloud credentials in /etc/config/cloud.conf",
           ["en303645:5.4-3"], "/etc/config/cloud.conf", 4),
        _f("SVC-001-1", "SVC-001", "high", "telnetd started at boot", ["en303645:5.6-1", "en303645:5.6-5", "en303645:5.5-5"],
           "/etc/init.d/S50remote", 5),
        _f("DBG-001-1", "DBG-001", "medium", "Root shell on serial console ttyS0", ["en303645:5.6-4A", "en303645:5.6-4"],
           "/etc/inittab", 2),
        _f("PRIV-001-1", "PRIV-001", "medium", "Web server runs as root", ["en303645:5.6-7"], "/etc/lighttpd/lighttpd.conf"),
        _f("WEB-001-1", "WEB-001", "high", "Command injection in CGI ping.cgi", ["en303645:5.13-1B", "en303645:5.13-1"],
           "/www/cgi-bin/ping.cgi", 12),
        _f("LOG-001-1", "LOG-001", "info", "Remote syslog to logs.acme-cloud.example:514", ["en303645:5.10-1"], "/etc/syslog.conf"),
    ]


def corpus_like(findings=True, kev=True) -> ScanResult:
    r = ScanResult(tool=ToolInfo(version="test"),
                   image=ImageInfo(path="/x/firmware.bin", name="firmware.bin", sha256="ab" * 32, size=74_000_000))
    r.components = [Component(bom_ref="pkg:deb/debian/busybox@1.35.0-4", name="busybox", version="1.35.0-4"),
                    Component(bom_ref="pkg:deb/debian/openssl@3.0.11-1", name="openssl", version="3.0.11-1")]
    if kev:
        r.vulnerabilities = [Vulnerability(id="CVE-2023-0464", component=r.components[1].bom_ref, component_name="openssl",
                                           severity="high", kev={"date_added": "2026-10-01"}, vex=VexStatement(state="affected"))]
    if findings:
        r.findings = planted_findings()
    r.extra["checks_run"] = ["CRED-001", "CRED-002", "KEY-001", "SECRET-001", "SVC-001", "DBG-001", "PRIV-001", "WEB-001",
                             "LOG-001", {"id": "UPD-001", "provisions": ["en303645:5.3-10", "en303645:5.3-7"]}]
    r.extra["secure_boot"] = {"verdict": "verified"}
    r.extra["hardening"] = {"elf_count": 100, "executables": 100, "nx": 100, "pie": 70, "relro_full": 60, "relro_partial": 30, "canary": 80}
    r.extra["vuln_db"] = {"empty": False, "sources": {"nvd": {"records": 10}}}
    return r


def clean() -> ScanResult:
    """The same device after the fixes: no findings, no KEV, every check ran."""
    r = corpus_like(findings=False, kev=False)
    r.extra["checks_run"] = [{"id": f.check, "provisions": f.provisions} for f in planted_findings()] + r.extra["checks_run"][-1:]
    r.extra["hardening"] = {"elf_count": 100, "executables": 100, "nx": 100, "pie": 100, "relro_full": 100, "canary": 95}
    return r

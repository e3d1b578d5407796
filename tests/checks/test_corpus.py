"""All checks over the real corpus rootfs: every planted defect found with the right evidence,
and nothing else (the exact set)."""
import json

LIB_DIRS = ("/lib/", "/usr/lib/", "/lib64/", "/usr/share/")

EXPECTED = {
    ("CRED-001", "/etc/shadow"),
    ("CRED-002", "/etc/shadow"), ("CRED-002", "/etc/lighttpd/.htpasswd"),
    ("CRED-003", "/etc/shadow"),
    ("CRED-005", "/etc/passwd"),
    ("CRED-006", "/etc/lighttpd/.htpasswd"),
    ("KEY-001", "/etc/ssl/private/server.key"), ("KEY-001", "/etc/config/device_ec.pem"),
    ("KEY-001", "/root/.ssh/id_ed25519"), ("KEY-001", "/etc/dropbear/dropbear_rsa_host_key"),
    ("KEY-003", "/etc/ssl/certs/server.crt"),  # self-signed, its private key (server.key) in the image
    ("KEY-004", "/etc/config/cloud.conf"), ("KEY-004", "/etc/hostapd.conf"),
    ("SVC-001", "/etc/init.d/S50remote"), ("SVC-002", "/etc/init.d/S50remote"),
    ("SVC-003", "/etc/inittab"), ("SVC-004", "/etc/miniupnpd/miniupnpd.conf"),
    ("SVC-006", "/etc/lighttpd/lighttpd.conf"), ("SVC-007", "/www/cgi-bin/ping.cgi"),
    ("SVC-008", "/etc/init.d/S60web"),  # miniupnpd (UPnP IGD, announced over SSDP) started at boot
    ("LOG-001", "/etc/syslog.conf"), ("LOG-001", "/etc/inittab"),
    ("HARD-001", "/bin/busybox"),  # Debian's busybox-static is a non-PIE static executable (fact)
    ("UPD-001", "/"),  # the corpus has no updater
    ("BOOT-005", "/"),  # no dm-verity / IMA
}
PLANTED_CHECK = {"default_password": "CRED-002", "empty_password": "CRED-001", "extra_uid0": "CRED-005",
                 "serial_console_getty": "SVC-003", "telnetd_enabled": "SVC-001", "ssh_server": "SVC-002",
                 "remote_syslog": "LOG-001", "private_key": "KEY-001", "hardcoded_secret": "KEY-004",
                 "plaintext_credentials": "CRED-006", "web_server_as_root": "SVC-006",
                 "upnp_insecure": "SVC-004", "command_injection_cgi": "SVC-007"}


def _pairs(result):
    return {(f.check, f.evidence[0].path) for f in result.findings}


def test_exact_set(rootfs_result):
    assert _pairs(rootfs_result) == EXPECTED


def test_every_planted_defect_found(rootfs_result, ground_truth):
    for p in ground_truth["planted"]:
        chk = PLANTED_CHECK[p["type"]]
        fs = [f for f in rootfs_result.findings if f.check == chk and any(e.path == p["path"] for e in f.evidence)]
        assert fs, p
        blob = json.dumps([f.model_dump() for f in fs])
        if "user" in p:
            assert any(f.data.get("user") == p["user"] for f in fs), p
        if p["type"] == "hardcoded_secret":
            assert set(fs[0].data["names"]) == set(p["keys"])
        if p["type"] == "remote_syslog":
            assert all(t in blob for t in p["targets"])
        if p["type"] == "serial_console_getty":
            assert fs[0].data["tty"] == p["tty"]
        if p["type"] == "ssh_server":
            assert fs[0].data["daemon"] == p["daemon"]
    cracked = {f.data["user"]: f.data["scheme"] for f in rootfs_result.findings if f.check == "CRED-002"
               and f.evidence[0].path == "/etc/shadow"}
    assert cracked == {"root": "md5_crypt", "admin": "sha512_crypt"}


def test_evidence_has_line_and_hash(rootfs_result):
    for f in rootfs_result.findings:
        assert f.id.startswith(f.check + "-")
        assert f.title.en and f.title.zh and "{" not in f.title.en + f.description.en + f.description.zh
        if f.check.split("-")[0] in ("CRED", "SVC", "LOG") or f.check == "KEY-004":
            assert all(e.line for e in f.evidence), f.id
            assert all(e.sha256 and len(e.sha256) == 64 for e in f.evidence), f.id
    telnet = next(f for f in rootfs_result.findings if f.check == "SVC-001")
    assert telnet.evidence[0].line == 3 and "telnetd" in telnet.evidence[0].excerpt
    assert telnet.severity == "critical"  # -l /bin/sh: shell without login


def test_secrets_masked(rootfs_result, rootfs):
    blob = json.dumps([f.model_dump() for f in rootfs_result.findings])
    hashes = [l.split(":")[1] for l in (rootfs / "etc/shadow").read_text().splitlines() if "$" in l]
    assert len(hashes) == 2
    for secret in ("acme_live_4f9c2b7e8d1a6f3b0c5e9d2a7b4f8e1c", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   "Mqtt!Passw0rd", "acme-default-wifi-2023", "12345670", "AKIAIOSFODNN7EXAMPLE",
                   "admin:admin", *hashes):
        assert secret not in blob, secret
    assert "ac***(42 chars)" in blob


def test_nothing_from_libraries(rootfs_result):
    for f in rootfs_result.findings:
        if f.check.startswith(("KEY", "CRED")):
            assert not any(e.path.startswith(LIB_DIRS) for e in f.evidence), f.id


def test_provisions_on_findings(rootfs_result):
    f = next(f for f in rootfs_result.findings if f.check == "CRED-002")
    assert "en303645:5.1-1" in f.provisions and "psti:PSTI-S1-1" in f.provisions


def test_stage_extras(rootfs_result):
    from firmpass.checks.registry import all_checks

    ex = rootfs_result.extra
    assert ex["checks_run"] == [c.id for c in all_checks()]
    h = ex["hardening"]
    assert h["elf_count"] > 100 and h["nx"] == h["elf_count"] and h["pie"] == h["executables"] - 1
    assert h["files"]["/bin/busybox"]["static"] and not h["files"]["/bin/busybox"]["pie"]
    assert h["relro_full"] + h["relro_partial"] == h["elf_count"]
    assert ex["secure_boot"]["verdict"] == "unknown"  # a bare rootfs holds no boot image
    assert any(s["service"] == "telnetd" and s["line"] == 3 for s in ex["checks_services"])


def test_three_copies_one_finding_each(rootfs_result, triple_result):
    assert _pairs(triple_result) == EXPECTED
    assert len(triple_result.findings) == len(rootfs_result.findings)
    for f in triple_result.findings:
        if f.check in ("BOOT-005", "UPD-001", "HARD-001"):
            continue
        assert {e.container for e in f.evidence} == {"0.1", "0.2", "0.3"}, f.id

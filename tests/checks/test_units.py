"""Each check family on small constructed trees (real files written to tmp_path, real crypto)."""
import shutil
from datetime import date
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from passlib.hash import des_crypt, sha512_crypt

from firmpass.model import Component, ComponentEvidence, FileEntry
from tests.checks.conftest import checks_on_tree, elf_files, empty_ctx, file_entry, run_checks


def tree(tmp_path: Path, files: dict[str, str | bytes], modes: dict[str, int] | None = None):
    return checks_on_tree(tmp_path, files, modes)


def by_check(result, chk):
    return [f for f in result.findings if f.check == chk]


def test_credentials_des_shared_and_locked(tmp_path):
    h_des = des_crypt.hash("root", salt="ab")
    h_shared = sha512_crypt.using(rounds=5000).hash("S3cure-but-shared!")
    r = tree(tmp_path, {
        "/etc/passwd": "root:x:0:0::/root:/bin/sh\nops:x:1001:1001::/home/ops:/bin/sh\n"
                       "ops2:x:1002:1002::/home/ops2:/bin/ash\nftp:x:21:21::/srv:/sbin/nologin\n"
                       "locked:x:1003:1003::/:/bin/sh\n",
        "/etc/shadow": f"root:{h_des}:1::::::\nops:{h_shared}:1::::::\nops2:{h_shared}:1::::::\nftp::1::::::\n"
                       "locked:!:1::::::\n"})
    assert [f.data["scheme"] for f in by_check(r, "CRED-003")] == ["des_crypt"]
    assert [(f.data["user"], f.data["scheme"]) for f in by_check(r, "CRED-002")] == [("root", "des_crypt")]
    assert by_check(r, "CRED-004")[0].data["users"] == ["ops", "ops2"]
    assert not by_check(r, "CRED-001")  # ftp has an empty password but no login shell
    assert not by_check(r, "CRED-005")


def test_passwd_only_empty_field(tmp_path):
    r = tree(tmp_path, {"/etc/passwd": "root::0:0::/root:/bin/sh\n"})
    f = by_check(r, "CRED-001")[0]
    assert f.evidence[0].path == "/etc/passwd" and f.evidence[0].line == 1


def _self_signed(key, days_valid: int, hash_alg):
    from datetime import datetime, timedelta, timezone

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old-device")])
    now = datetime.now(timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=4000))
            .not_valid_after(now + timedelta(days=days_valid)).sign(key, hash_alg))


def test_keys_weak_expired_sha1_and_encrypted(tmp_path):
    weak = rsa.generate_private_key(65537, 1024)
    cert = _self_signed(weak, -10, hashes.SHA256())  # this OpenSSL refuses to sign with SHA-1/MD5
    enc = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"))
    der = weak.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    r = tree(tmp_path, {
        "/etc/cert.pem": cert.public_bytes(serialization.Encoding.PEM),
        "/etc/weak.pem": weak.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                            serialization.NoEncryption()),
        "/etc/enc.pem": enc, "/etc/key.der": der,
        "/etc/notakey.pem": "-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all !!!!!!!!!!!!\n-----END RSA PRIVATE KEY-----\n"})
    keys = {f.evidence[0].path: f for f in by_check(r, "KEY-001")}
    assert set(keys) == {"/etc/weak.pem", "/etc/enc.pem", "/etc/key.der"}
    assert keys["/etc/enc.pem"].data["encrypted"] and keys["/etc/enc.pem"].severity == "medium"
    assert keys["/etc/key.der"].data["kind"] == "RSA-1024 DER"
    assert {f.evidence[0].path for f in by_check(r, "KEY-002")} == {"/etc/weak.pem", "/etc/key.der", "/etc/cert.pem"}
    c = by_check(r, "KEY-003")[0]
    assert "expired" in c.title.en and "self-signed" in c.title.en and c.data["private_key_in_image"]


def test_libraries_raise_no_key_finding(corpus, tmp_path):
    """Real libssl / libcrypto / gnutls: PEM header strings and gnutls' built-in self-test keys."""
    lib = corpus / "rootfs" / "usr/lib/x86_64-linux-gnu"
    ctx = empty_ctx(tmp_path / "out")
    ctx.result.files = [file_entry(f"/usr/lib/x86_64-linux-gnu/{n}", lib / n, mode=0o755)
                        for n in ("libssl.so.3", "libcrypto.so.3", "libgnutls.so.30.34.3")]
    run_checks(ctx)
    assert not [f for f in ctx.result.findings if f.check.startswith("KEY")]
    assert b"-----BEGIN RSA PRIVATE KEY-----" in (lib / "libgnutls.so.30.34.3").read_bytes()


def test_executable_with_complete_embedded_key(corpus, tmp_path):
    """An ELF program (not a library) carrying a complete, parseable key does raise KEY-001."""
    exe = tmp_path / "vendord"
    shutil.copyfile(corpus / "rootfs" / "usr/sbin/dnsmasq", exe)
    key = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with open(exe, "ab") as fh:
        fh.write(b"\0" + key + b"\0")
    ctx = empty_ctx(tmp_path / "out")
    ctx.result.files = [file_entry("/usr/sbin/vendord", exe, mode=0o755),
                        file_entry("/usr/sbin/dnsmasq", corpus / "rootfs" / "usr/sbin/dnsmasq", mode=0o755)]
    run_checks(ctx)
    assert [f.evidence[0].path for f in by_check(ctx.result, "KEY-001")] == ["/usr/sbin/vendord"]


def test_secret_placeholders_ignored(tmp_path):
    r = tree(tmp_path, {"/etc/app.conf": "password=$PASSWORD\ntoken = <your-token>\nsecret = # none\n"
                                         "api_key = 'k3y-Very-Secret-123'\n"})
    f = by_check(r, "KEY-004")[0]
    assert f.data["names"] == ["api_key"] and f.evidence[0].line == 4
    assert "k3y-Very-Secret-123" not in f.model_dump_json()


def test_services_inetd_systemd_procd(tmp_path):
    r = tree(tmp_path, {
        "/etc/inetd.conf": "# comment\ntftp dgram udp wait root /usr/sbin/in.tftpd in.tftpd /srv\n",
        "/etc/systemd/system/multi-user.target.wants/adbd.service": "[Service]\nExecStart=/usr/bin/adbd --root\n",
        "/etc/init.d/umdns": "#!/bin/sh /etc/rc.common\nUSE_PROCD=1\nstart_service() {\n"
                             "  procd_open_instance\n  procd_set_param command /usr/sbin/umdns\n}\n",
        "/etc/inittab": "::askfirst:-/bin/sh\nttyAMA0::respawn:/bin/login\n"})
    assert by_check(r, "SVC-001")[0].evidence[0].path == "/etc/inetd.conf"
    assert by_check(r, "SVC-005")[0].data["service"] == "adbd"
    d = by_check(r, "SVC-008")[0]
    assert d.data["via"] == "procd" and d.evidence[0].line == 5
    ttys = {f.data["tty"]: f for f in by_check(r, "SVC-003")}
    assert set(ttys) == {"console", "ttyAMA0"} and ttys["console"].severity == "high"


def test_updates(tmp_path):
    files = {"/usr/bin/swupdate": "#fake", "/etc/swupdate.cfg": "globals: { verbose = true; };\n",
             "/etc/init.d/S90swupdate": "#!/bin/sh\nswupdate -d '-u http://updates.acme.example/fw' &\n"}
    r = tree(tmp_path / "a", files)
    assert by_check(r, "UPD-002")[0].data["updater"] == "SWUpdate"
    assert by_check(r, "UPD-003")[0].evidence[0].path == "/etc/init.d/S90swupdate"
    assert not by_check(r, "UPD-001")
    files["/etc/swupdate.cfg"] = 'globals: { public-key-file = "/etc/swupdate.pem"; };\n'
    files["/etc/init.d/S90swupdate"] = "#!/bin/sh\nswupdate -d '-u https://updates.acme.example/fw' &\n"
    r = tree(tmp_path / "b", files)
    assert not by_check(r, "UPD-002") and not by_check(r, "UPD-003")
    assert by_check(r, "UPD-004")  # signed, but no downgrade protection
    files["/etc/init.d/S90swupdate"] = "#!/bin/sh\nswupdate -N 1.0.0 -d '-u https://u.example/fw' &\n"
    assert not by_check(tree(tmp_path / "c", files), "UPD-004")


def test_filesystem_modes(tmp_path):
    ctx = empty_ctx(tmp_path / "out")
    p = tmp_path / "f"
    p.write_text("x")
    ctx.result.files = [
        FileEntry(path="/bin/busybox", container="0.1", type="file", mode=0o4777, disk_path=str(p)),
        FileEntry(path="/usr/bin/passwd", container="0.1", type="file", mode=0o4755, disk_path=str(p)),
        FileEntry(path="/etc/shadow", container="0.1", type="file", mode=0o644, disk_path=str(p)),
        FileEntry(path="/tmp", container="0.1", type="dir", mode=0o1777),
        FileEntry(path="/var/run", container="0.1", type="dir", mode=0o777),
        FileEntry(path="/dev/null", container="0.1", type="chardev", mode=0o666),
    ]
    run_checks(ctx)
    r = ctx.result
    assert by_check(r, "FS-001")[0].data["paths"] == ["/bin/busybox", "/var/run"]
    s = by_check(r, "FS-002")[0]
    assert s.data["paths"] == ["/bin/busybox", "/usr/bin/passwd"] and s.severity == "high"
    assert by_check(r, "FS-003")[0].data["paths"] == ["/bin/busybox"]
    assert by_check(r, "FS-004")[0].data["mode"] == "0644"


def test_eol_components(tmp_path):
    from firmpass.checks.base import CheckRun
    from firmpass.checks.eol import end_of_life

    ctx = empty_ctx(tmp_path / "out")
    ev = [ComponentEvidence(path="/usr/lib/libssl.so.1.1", method="soname", match="libssl.so.1.1")]
    ctx.result.components = [
        Component(bom_ref="a", name="openssl", version="1.1.1w", evidence=ev),
        Component(bom_ref="b", name="libssl3", version="3.0.11-1~deb12u2"),
        Component(bom_ref="c", name="linux", version="6.6.30"),
        Component(bom_ref="d", name="linux", version="4.9.337"),
        Component(bom_ref="e", name="busybox", version="1.35.0"),
        Component(bom_ref="f", name="openssl", version="3.5.1"),
    ]
    run = CheckRun(ctx)
    hits = {h.data["component"]: h for h in end_of_life(run, today=date(2026, 11, 22))}
    assert set(hits) == {"a", "b", "d"}
    assert hits["a"].params["eol"] == "2023-09-11" and hits["a"].evidence[0].path == "/usr/lib/libssl.so.1.1"
    assert hits["b"].severity == "medium" and hits["b"].data["distribution_revision"]
    assert "kernel.org" in hits["d"].data["source"]
    assert {h.data["component"] for h in end_of_life(run, today=date(2026, 1, 1))} == {"a", "d"}


def test_command_line_secrets_masked(tmp_path):
    r = tree(tmp_path, {"/etc/init.d/S70ftp": "#!/bin/sh\n/usr/sbin/vsftpd --password=Sup3rS3cret -p 21\n"})
    f = by_check(r, "SVC-001")[0]
    assert "Sup3rS3cret" not in r.model_dump_json() and "Su***(11 chars)" in f.evidence[0].excerpt


def test_eol_kernel_lts_not_flagged():
    from firmpass.checks.eol import lookup

    assert lookup("linux", "6.1.0-28")["eol"].isoformat() == "2026-12-31"  # Debian 12's LTS branch
    assert lookup("linux", "6.8.12")["eol"] is None  # a non-longterm branch, unmaintained
    assert lookup("linux", "6.20.1") is None


def test_fast_elf_reader_agrees_with_pyelftools(rootfs):
    from firmpass.formats.elf import hardening_pyelftools as analyse_pyelftools
    from firmpass.formats.elf import hardening_struct as _fast

    n = 0
    for p, data in elf_files(rootfs):
        assert _fast(data) == analyse_pyelftools(data), p
        n += 1
    assert n > 100
    from firmpass.formats.elf import hardening_facts as analyse

    assert analyse(b"\x7fELF\x02\x01\x01" + b"\0" * 20) is None  # truncated: rejected, no exception


def test_eol_titles_read_well_for_dated_and_unmaintained_branches(tmp_path):
    """The finding titles, through the catalogue text: a dated end ('ended 2023-09-11') and a
    non-longterm kernel branch with no date read as sentences in both languages."""
    from firmpass.checks import run as run_checks_stage

    ctx = empty_ctx(tmp_path / "out")
    ctx.result.components = [Component(bom_ref="a", name="openssl", version="1.1.1w"),
                             Component(bom_ref="d", name="linux", version="6.3.13")]
    run_checks_stage(ctx)
    t = {f.title.en.split(": ", 1)[1].split()[0]: f.title for f in ctx.result.findings if f.check == "EOL-001"}
    assert set(t) == {"openssl", "linux"}, t
    assert t["openssl"].en.endswith("(openssl 1.1.1 ended 2023-09-11)")
    assert t["openssl"].zh.endswith("已于 2023-09-11 停止支持）")
    assert "non-longterm branch, no longer maintained" in t["linux"].en and "（(" not in t["linux"].zh
    assert "为非长期支持分支，已停止维护" in t["linux"].zh and "已于 （" not in t["linux"].zh


def test_eol_old_kernel_branch_says_end_date_unknown(tmp_path):
    """Linux 2.6 is older than every branch the table dates: the finding says the end date is unknown
    (both languages) and never shows another branch's date (4.14's 2024-01-10) as its end of life."""
    from firmpass.checks import run as run_checks_stage
    from firmpass.checks.eol import lookup

    hit = lookup("linux", "2.6.36")
    assert hit["eol"] is None and hit["unknown_date"]
    ctx = empty_ctx(tmp_path / "out")
    ctx.result.components = [Component(bom_ref="k", name="linux", version="2.6.36")]
    run_checks_stage(ctx)
    f = [f for f in ctx.result.findings if f.check == "EOL-001"][0]
    assert "end date unknown" in f.title.en and "停止日期未知" in f.title.zh
    assert "2024-01-10" not in f.model_dump_json()
    assert f.data["eol"] == "(ended, end date unknown)"

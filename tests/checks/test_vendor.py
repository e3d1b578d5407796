"""Checks on real-shaped vendor firmware: a root filesystem in a subfolder, vendor start-up script
chains, backdoor logins, brokers, U-Boot environments, web-UI update pages and secret precision."""
from __future__ import annotations

from pathlib import Path

from tests.checks.conftest import run_checks
from tests.treectx import context_from_tree


def vtree(tmp_path: Path, files: dict[str, str | bytes], modes: dict[str, int] | None = None, name="root"):
    root = tmp_path / name
    for rel, content in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        if modes and rel in modes:
            p.chmod(modes[rel])
    return run_checks(context_from_tree(root, tmp_path / ("out-" + name))).result


def by_check(result, chk):
    return [f for f in result.findings if f.check == chk]


PASSWD = "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/bin/sh\nAdmin:x:0:0:Admin:/:/bin/sh\n" \
         "nobody:x:99:99::/:/bin/false\n"
SHADOW = "root::10933:0:99999:7:::\nbin::10933:0:99999:7:::\nAdmin:!:10933::::::\nnobody:*:10933::::::\n"


def test_root_filesystem_in_subfolder(tmp_path):
    """A rootfs tarball's layout: squashfs-root/etc/shadow; findings name the image path."""
    r = vtree(tmp_path, {"/squashfs-root/etc/passwd": PASSWD, "/squashfs-root/etc/shadow": SHADOW,
                         "/squashfs-root/bin/busybox": b"\x7fELF", "/squashfs-root/lib/libc.so.0": b"\x7fELF",
                         "/README": "vendor GPL tarball\n"},
              modes={"/squashfs-root/etc/shadow": 0o777})
    empty = {f.data["user"] for f in by_check(r, "CRED-001")}
    assert empty == {"root", "bin"}
    ev = by_check(r, "CRED-001")[0].evidence[0]
    assert ev.path == "/squashfs-root/etc/shadow" and ev.line in (1, 2)
    assert {f.data["user"] for f in by_check(r, "CRED-005")} == {"Admin"}
    fs4 = by_check(r, "FS-004")
    assert [f.evidence[0].path for f in fs4] == ["/squashfs-root/etc/shadow"]
    assert "readable by every user" in fs4[0].description.en and "rewrite" in fs4[0].description.en


def test_roots_at_depth_and_not_usr(tmp_path):
    """Two roots at different depths each get their checks; /usr with a usr/etc is no root."""
    from firmpass.checks.base import find_roots
    from tests.treectx import entries_from_tree

    files = {"/a/b/c/rootfs/etc/shadow": "root::1::::::\n", "/a/b/c/rootfs/etc/passwd": "root:x:0:0::/:/bin/sh\n",
             "/a/b/c/rootfs/sbin/init": "x", "/other/etc/passwd": "op:x:0:0::/:/bin/sh\nroot:x:0:0::/:/bin/sh\n",
             "/other/lib/x": "x", "/usr/etc/foo.conf": "a=1\n", "/usr/bin/x": "x", "/usr/lib/y": "y"}
    root = tmp_path / "t"
    for rel, c in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(c)
    roots = find_roots(entries_from_tree(root))["0.1"]
    assert set(roots) == {"/a/b/c/rootfs", "/other", ""}
    r = run_checks(context_from_tree(root, tmp_path / "o")).result
    assert [f.evidence[0].path for f in by_check(r, "CRED-001")] == ["/a/b/c/rootfs/etc/shadow"]
    assert [f.evidence[0].path for f in by_check(r, "CRED-005")] == ["/other/etc/passwd"]


# real-shaped web-UI, script and name-service text of a 2010s router (D-Link / Alpha Networks SDK style)
NSSWITCH = "passwd: compat\ngroup: compat\nshadow: compat\nhosts: files dns\n"
LANG_JS = ('var share = new Object();\nshare.passwd="Password";\nshare.user="User Name";\n'
           'wlansec.passphrase="Passphrase";\nwlansec.psk = "Pre-Shared Key";\n')
OBJ_JS = ("function Wlan(ssid, secret) {\n  this.ssid = ssid;\n  this.secret = secret;\n"
          "  this.password = form.password.value;\n}\n")
WPS_SH = ('#!/bin/sh\nkey=`xmldbc -g /wifi/entry/nwkey/psk/key`\npassphrase="psk=${key}"\n'
          'password=$1\nexport PASSWORD="$(cat /var/run/pw)"\n')
REAL_CONF = ("[smtp]\nlog_email_password=Xk9#mQ2vL7\napi_key = 'q8Zr3VbN1xTy7KpL4mWc9HdF2sGj6AeU'\n"
             "secret_key_file=/etc/ssl/private/key.pem\nenable_password=true\n")


def test_secret_precision(tmp_path):
    r = vtree(tmp_path, {"/etc/nsswitch.conf": NSSWITCH, "/www/js/lang_en.js": LANG_JS, "/www/js/wlan.js": OBJ_JS,
                         "/etc/scripts/wps.sh": WPS_SH, "/etc/config/mail.conf": REAL_CONF,
                         "/www/locale/zh.lang": 'share.passwd="密码"\n'})
    found = by_check(r, "KEY-004")
    assert [f.evidence[0].path for f in found] == ["/etc/config/mail.conf"]
    ev = found[0].evidence
    assert [e.line for e in ev] == [2, 3]  # the path and the boolean are no secrets
    # the masking keeps the key name whole and hides the value
    assert ev[0].excerpt == "log_email_password=Xk***(10 chars)"
    assert "high-entropy" in ev[1].detail.en and "q8Zr3VbN1xTy7KpL4mWc9HdF2sGj6AeU" not in ev[1].excerpt

"""Checks on real-shaped vendor firmware: a root filesystem in a subfolder, vendor start-up script
chains, backdoor logins, brokers, U-Boot environments, web-UI update pages and secret precision."""
from __future__ import annotations

from pathlib import Path

from tests.checks.conftest import checks_on_tree, run_checks
from tests.treectx import context_from_tree


def vtree(tmp_path: Path, files: dict[str, str | bytes], modes: dict[str, int] | None = None, name="root"):
    return checks_on_tree(tmp_path, files, modes, name)


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


# the start-up chain of a D-Link / Alpha Networks router: rcS -> init.d/S10system.sh -> scripts/system.sh
# -> scripts/misc/telnetd.sh, which starts telnetd with a login whose password is a file in the image
ALPHA = {
    "/etc/inittab": "::sysinit:/etc/init.d/rcS\n::respawn:-/bin/sh\n",
    "/etc/init.d/rcS": "#!/bin/sh\nfor i in /etc/init0.d/S??* ; do\n\t[ ! -f \"$i\" ] && continue\n"
                       "\t$i start\ndone\n/etc/init.d/S10system.sh\n",
    "/etc/init.d/S10system.sh": "#!/bin/sh\necho [$0] ... > /dev/console\nmount -t proc none /proc\n"
                                "SCRIPTS=/etc/scripts\n. $SCRIPTS/libs/fn.sh\n"
                                "sh $SCRIPTS/system.sh start > /dev/console\n",
    "/etc/scripts/libs/fn.sh": "#!/bin/sh\nLOGIN=/usr/sbin/login\n",
    "/etc/scripts/system.sh": "#!/bin/sh\ncase \"$1\" in\nstart)\n"
                              "\t/etc/scripts/misc/telnetd.sh &\n\t;;\nesac\n",
    "/etc/scripts/misc/telnetd.sh": "#!/bin/sh\nimage_sign=`cat /etc/config/image_sign`\n"
                                    "TELNETD=`rgdb -g /sys/telnetd`\nif [ \"$TELNETD\" = \"true\" ]; then\n"
                                    "\techo \"Start telnetd ...\" > /dev/console\n"
                                    "\ttelnetd -l $LOGIN -u Alphanetworks:$image_sign -i br0 &\nfi\n",
    "/etc/config/image_sign": "wrgn49_dlob_dir615\n",
    "/bin/busybox": b"\x7fELF", "/usr/sbin/login": b"\x7fELF",
}


def test_vendor_script_chain_backdoor_login(tmp_path):
    r = vtree(tmp_path, ALPHA)
    tel = by_check(r, "SVC-001")
    assert len(tel) == 1
    ev = tel[0].evidence
    assert (ev[0].path, ev[0].line) == ("/etc/scripts/misc/telnetd.sh", 6)
    assert "-u Alphanetworks:" in ev[0].excerpt and "wrgn49_dlob_dir615" not in ev[0].excerpt
    # the chain, entry point first: inittab -> rcS -> S10system.sh -> system.sh -> telnetd.sh
    steps = [(e.path, e.line) for e in ev[1:]]
    assert steps == [("/etc/inittab", 1), ("/etc/init.d/rcS", 6), ("/etc/init.d/S10system.sh", 6),
                     ("/etc/scripts/system.sh", 4)]
    # the hard-coded login, with the file that holds its password
    login = by_check(r, "CRED-007")
    assert len(login) == 1 and login[0].severity == "critical"
    f = login[0]
    assert f.data["user"] == "Alphanetworks" and f.data["known_backdoor"]
    assert f.data["password_file"] == "/etc/config/image_sign" and f.data["how"] == "telnetd -u"
    assert f.evidence[-1].path == "/etc/config/image_sign"
    assert "wrgn49_dlob_dir615" not in f.model_dump_json()
    assert "/etc/config/image_sign" in f.description.en and "/etc/config/image_sign" in f.description.zh


def test_login_f_and_debug_shells(tmp_path):
    r = vtree(tmp_path, {
        "/etc/inittab": "::sysinit:/etc/rc.d/rcS\nttyS0::respawn:/bin/login -f root\n",
        "/etc/rc.d/rcS": "#!/bin/sh\nPROG=/usr/sbin/dropbear\nNAME=dropbear\nmkdir -p /tmp/$NAME\n"
                         "$PROG -B -p 22 &\nbusybox telnetd -l /bin/sh -p 2323\n"
                         "start-stop-daemon -S -b -x /usr/bin/nc -- -l -p 4444 -e /bin/sh\n"
                         "/usr/sbin/miniupnpd -f /etc/miniupnpd.conf\nutelnetd -d\n",
        "/bin/busybox": b"\x7fELF", "/usr/sbin/dropbear": b"\x7fELF"})
    assert {f.data["user"] for f in by_check(r, "CRED-007")} == {"root"}
    ssh = by_check(r, "SVC-002")
    assert len(ssh) == 1 and [(e.path, e.line) for e in ssh[0].evidence] == [("/etc/rc.d/rcS", 5), ("/etc/inittab", 1)]
    svc1 = {f.data["daemon"]: f for f in by_check(r, "SVC-001")}
    assert set(svc1) == {"telnetd"} and svc1["telnetd"].severity == "critical"
    assert [e.line for e in svc1["telnetd"].evidence] == [6, 1, 9]  # busybox telnetd, its chain, utelnetd
    assert [f.data["daemon"] for f in by_check(r, "SVC-005")] == ["nc"]


MOSQUITTO = """# smart-home gateway broker
pid_file /var/run/mosquitto.pid
persistence true
listener 1883
allow_anonymous true
listener 8883 0.0.0.0
certfile /etc/mosquitto/certs/server.crt
keyfile /etc/mosquitto/certs/server.key
"""
MOSQUITTO_SAFE = "listener 1883 127.0.0.1\nallow_anonymous false\npassword_file /etc/mosquitto/passwd\n" \
                 "acl_file /etc/mosquitto/acl\n"


def test_broker_and_iot_services(tmp_path):
    r = vtree(tmp_path, {
        "/etc/mosquitto/mosquitto.conf": MOSQUITTO, "/etc/mosquitto/conf.d/local.conf": MOSQUITTO_SAFE,
        "/etc/ipcam/rtsp.conf": "[rtsp]\nport=554\nrtsp_auth=0\n",
        "/etc/config/onvif": "config onvif 'main'\n\toption enable '1'\n\toption onvif_auth 'disabled'\n",
        "/etc/init.d/S70gateway": "#!/bin/sh\n/usr/bin/mbusd -d -p /dev/ttyS1 -s 9600 -P 502 &\n"
                                  "coap-server -A 0.0.0.0 &\ncoap-server -k s3cret -A ::\n"})
    mq = by_check(r, "SVC-010")
    assert [f.evidence[0].path for f in mq] == ["/etc/mosquitto/mosquitto.conf"]
    assert mq[0].severity == "high" and mq[0].data["anonymous"] and mq[0].data["open_plain_ports"] == ["1883"]
    assert not mq[0].data["acl"]
    assert [e.line for e in mq[0].evidence] == [5, 4]
    iot = {(f.data["protocol"], f.evidence[0].path) for f in by_check(r, "SVC-011")}
    assert iot == {("RTSP", "/etc/ipcam/rtsp.conf"), ("ONVIF", "/etc/config/onvif"),
                   ("Modbus/TCP", "/etc/init.d/S70gateway"), ("CoAP", "/etc/init.d/S70gateway")}
    coap = next(f for f in by_check(r, "SVC-011") if f.data["protocol"] == "CoAP")
    assert [e.line for e in coap.evidence] == [3]  # the DTLS-keyed server on line 4 is fine


def test_ssh_empty_password_and_web_root(tmp_path):
    r = vtree(tmp_path, {
        "/etc/init.d/S50dropbear": "#!/bin/sh\nDROPBEAR_ARGS=\"-B -p 22\"\n/usr/sbin/dropbear $DROPBEAR_ARGS\n",
        "/etc/ssh/sshd_config": "Port 22\nPermitRootLogin yes\nPermitEmptyPasswords yes\n",
        "/etc/init.d/S80web": "#!/bin/sh\nhttpd -h /www -p 80\nmini_httpd -d /www -u root -p 8080\n"
                              "thttpd -d /www -u nobody\n",
        "/bin/busybox": b"\x7fELF"})
    s9 = {f.data["service"]: f for f in by_check(r, "SVC-009")}
    assert set(s9) == {"dropbear", "sshd"}
    assert s9["dropbear"].evidence[0].line == 3 and s9["sshd"].evidence[0].line == 3
    web = sorted((f.data["server"], f.evidence[0].line) for f in by_check(r, "SVC-006"))
    assert web == [("httpd", 2), ("mini_httpd", 3)]


TOOLS_FIRMWARE = """<form id="fwup" action="/upgrade.cgi" method="post" enctype="multipart/form-data">
<input type="file" name="firmware" size="40">
<input type="submit" value="Upload">
</form>
"""


def test_web_ui_update_is_an_update_mechanism(tmp_path):
    base = {"/etc/passwd": "root:x:0:0::/root:/bin/sh\n", "/bin/busybox": b"\x7fELF",
            "/www/index.php": "<html>status</html>\n"}
    none = vtree(tmp_path, base, name="none")
    assert [f.check for f in none.findings if f.check.startswith("UPD")] == ["UPD-001"]
    page = vtree(tmp_path, {**base, "/www/tools_firmware.php": TOOLS_FIRMWARE}, name="page")
    assert not [f for f in page.findings if f.check.startswith("UPD")]  # found, and not judged unsigned
    cgi = vtree(tmp_path, {**base, "/htdocs/cgi-bin/upgrade.cgi": b"\x7fELF\x01\x01\x01\0\0"}, name="cgi")
    assert "UPD-001" not in {f.check for f in cgi.findings}
    daemon = vtree(tmp_path, {**base, "/usr/sbin/fwupgrade": b"\x7fELF\x01\x01\x01\0\0"}, name="daemon")
    assert "UPD-001" not in {f.check for f in daemon.findings}
    # a help page that only talks about upgrades is no upload
    talk = vtree(tmp_path, {**base, "/www/help_upgrade.htm": "<p>Check the vendor site for upgrades.</p>\n"},
                 name="talk")
    assert "UPD-001" in {f.check for f in talk.findings}


def test_known_backdoor_account_in_passwd(tmp_path):
    r = vtree(tmp_path, {"/etc/passwd": "root:x:0:0::/root:/bin/sh\ntelecomadmin:x:0:0::/:/bin/sh\n"
                                        "CMCCAdmin:x:1000:1000::/:/bin/false\n",
                         "/etc/shadow": "root:!:1::::::\ntelecomadmin:$1$ab$cd:1::::::\nCMCCAdmin:!:1::::::\n"})
    f = by_check(r, "CRED-007")
    assert [(x.data["user"], x.data["how"], x.evidence[0].line) for x in f] == [("telecomadmin", "account", 2)]
    assert {x.data["user"] for x in by_check(r, "CRED-005")} == {"telecomadmin"}

"""Exposed services and debug access (SVC-001 .. SVC-011).

The services started at boot come from the start-up graph (checks/startup.py `startups`); the
checks here judge them (cleartext, SSH, debug, discovery, web servers keeping root, IoT daemons)
beside the configuration files that open a service (sshd, inittab consoles, UPnP, lighttpd / boa,
CGI scripts, MQTT brokers, RTSP / ONVIF / CoAP / Modbus).  Nothing from the image is executed.
"""
from __future__ import annotations

import posixpath
import re

from firmpass.checks.base import CheckRun, Hit, in_dir
from firmpass.checks.registry import check
from firmpass.checks.startup import chain_evidence, inittab_entries, startups
from firmpass.model import Text

SERIAL_TTY = re.compile(r"^(tty(S|AMA|USB|O|mxc|HS|MSM|PS|MFD|SAC|LP)\d+|console|ttyGS\d+|hvc\d+)$")
SHELLS = re.compile(r"(^|/)-?(sh|ash|bash|hush|msh)$")


def service_text(name: str) -> Text:
    """A service's display name (startup.DAEMONS, the netcat listener) for a title or description."""
    for en, zh in (("FTP server ", "FTP 服务 "), ("TFTP server ", "TFTP 服务 ")):
        if name.startswith(en):
            return Text(en=name, zh=zh + name[len(en):])
    if name == "netcat shell listener":
        return Text(en=name, zh="netcat Shell 监听程序")
    return Text(en=name, zh=name)


def _svc_hits(run: CheckRun, cls: str):
    for r in startups(run):
        if r["cls"] != cls:
            continue
        e = r["entry"]
        note = ""
        if r["daemon"] in ("telnetd", "utelnetd") and re.search(r"-l\s*/bin/(ba)?sh", r["command"]):
            note = Text(en=" It is started with '-l /bin/sh': a root shell without any login.",
                        zh="它以 '-l /bin/sh' 启动：无需登录即可获得 root Shell。")
        yield Hit(key=(cls, r["name"]), evidence=chain_evidence(run, r),
                  params={"service": service_text(r["name"]), "path": e.path, "line": r["line"], "command": r["command"][:160],
                          "note": note},
                  severity="critical" if note else None,
                  data={"service": r["name"], "daemon": r["daemon"], "via": r["via"], "no_login_shell": bool(note)})


@check("SVC-001")
def cleartext_services(run: CheckRun):
    yield from _svc_hits(run, "cleartext")


@check("SVC-002")
def ssh_servers(run: CheckRun):
    yield from _svc_hits(run, "ssh")


@check("SVC-005")
def debug_services(run: CheckRun):
    yield from _svc_hits(run, "debug")


@check("SVC-008")
def discovery_services(run: CheckRun):
    yield from _svc_hits(run, "discovery")
    yield from _svc_hits(run, "upnp")  # a UPnP IGD announces itself over SSDP


# web servers that keep root: BusyBox httpd without -u, uhttpd and GoAhead (no privilege drop at all),
# any server told `-u root`
NO_DROP = {"uhttpd", "goahead"}


def _web_root_starts(run: CheckRun):
    for r in startups(run):
        if r["cls"] != "web" or not r.get("program"):
            continue
        args = r.get("args") or []
        user = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "-u"), None)
        d = r["daemon"]
        if user in ("root", "0") or (user is None and (d in NO_DROP or d == "httpd" and (
                "busybox" in r["raw"] or run.lookup("/bin/busybox", r["entry"]) is not None))):
            yield r, user


@check("SVC-009")
def ssh_empty_passwords(run: CheckRun):
    for r in startups(run):
        if r["daemon"] == "dropbear" and re.search(r"(^|\s)-[A-Za-z]*B", " ".join(r.get("args") or [])):
            yield Hit(key=("ssh-empty", "dropbear"), evidence=chain_evidence(run, r),
                      params={"service": "dropbear", "path": r["entry"].path, "line": r["line"],
                              "how": Text(en="'-B' allows logins to accounts with an empty password",
                                          zh="'-B' 选项允许口令为空的账户登录")},
                      data={"service": "dropbear", "option": "-B"})
    for e, n, s in run.config_lines(run.glob(r"(^|/)sshd_config$")):
        if re.match(r"(?i)^PermitEmptyPasswords\s+yes\b", s):
            yield Hit(key=("ssh-empty", "sshd", e.path), evidence=[run.ev(e, n, s, Text(
                          en="sshd accepts empty passwords", zh="sshd 接受空口令"))],
                      params={"service": "sshd", "path": e.path, "line": n,
                              "how": Text(en="'PermitEmptyPasswords yes' allows logins to accounts with an empty password",
                                          zh="'PermitEmptyPasswords yes' 允许口令为空的账户登录")},
                      data={"service": "sshd", "option": "PermitEmptyPasswords yes"})


@check("SVC-003")
def serial_console(run: CheckRun):
    for e, n, f in inittab_entries(run):
        s = ":".join(f)  # the entry as written (stripped)
        if f[2] not in ("respawn", "askfirst", "once", "wait"):
            continue
        proc = f[3].split()
        if not proc:
            continue
        prog = posixpath.basename(proc[0].lstrip("-"))
        tty = next((a for a in proc[1:] if SERIAL_TTY.match(a.replace("/dev/", ""))), None)
        tty = (tty or f[0] or "console").replace("/dev/", "")
        is_getty = prog in ("getty", "agetty", "mingetty", "login", "serial-getty", "mgetty")
        is_shell = bool(SHELLS.search(proc[0]))
        if not (is_getty or is_shell) or not SERIAL_TTY.match(tty):
            continue
        shell_note = Text(en=" - and it is a shell without login" if is_shell else "",
                          zh="，而且是无需登录的 Shell" if is_shell else "")
        yield Hit(key=("tty", tty), evidence=[run.ev(e, n, s, Text(en=f"{prog} on {tty}",
                                                              zh=f"串口 {tty} 上运行 {prog}"))],
                  params={"tty": tty, "path": e.path, "line": n, "command": f[3], "shell_note": shell_note},
                  severity="high" if is_shell else None, data={"tty": tty, "program": prog, "no_login": is_shell})
    for f in run.ctx.result.files:
        m = re.match(r"^/etc/systemd/system/.*\.wants/(serial-getty|getty)@(tty\w+)\.service$", run.rel(f))
        if m and SERIAL_TTY.match(m.group(2)):
            yield Hit(key=("tty", m.group(2)), evidence=[run.ev(f, None, f.path, Text(
                          en="enabled systemd getty unit", zh="已启用的 systemd getty 单元（串口登录）"))],
                      params={"tty": m.group(2), "path": f.path, "line": "-", "command": m.group(0),
                              "shell_note": ""}, data={"tty": m.group(2), "program": m.group(1)})


@check("SVC-004")
def upnp(run: CheckRun):
    for e in run.glob(r"(^|/)miniupnpd[^/]*\.conf$|/miniupnpd/[^/]+\.conf$|/etc/config/upnpd$"):
        if not run.is_text(e):
            continue
        evs, en, zh = [], [], []
        for n, line in enumerate(run.lines(e), 1):
            s = line.strip()
            if re.match(r"^(option\s+)?secure_mode\s*[=\s]\s*['\"]?(no|0)['\"]?$", s):
                evs.append(run.ev(e, n, s, Text(en="secure_mode off", zh="secure_mode 已关闭")))
                en.append("secure_mode=no lets a client map ports to any LAN address")
                zh.append("secure_mode=no 允许客户端把端口映射到任意局域网地址")
            elif re.match(r"^allow\s+0-65535\s+0\.0\.0\.0/0\s+0-65535", s):
                evs.append(run.ev(e, n, s, Text(en="allow-all permission rule", zh="放行所有端口和地址的权限规则")))
                en.append("an allow rule covers every port and every address")
                zh.append("有一条 allow 规则覆盖所有端口和所有地址")
        if evs:
            yield Hit(key=("upnp", e.path), evidence=evs,
                      params={"path": e.path, "problems": Text(en="; ".join(en), zh="；".join(zh))},
                      data={"problems": en})


@check("SVC-006")
def web_root(run: CheckRun):
    for r, user in _web_root_starts(run):
        why = (f"-u {user}" if user else "no -u option: it keeps the root privileges of init")
        yield Hit(key=("web", r["entry"].path, r["line"]), evidence=chain_evidence(run, r),
                  params={"path": r["entry"].path, "line": r["line"], "excerpt": r["text"][:160]},
                  data={"server": r["daemon"], "user": user or "root", "why": why})
    for e in run.glob(r"(^|/)lighttpd\.conf$"):
        if not run.is_text(e):
            continue
        user_line = None
        for n, line in enumerate(run.lines(e), 1):
            m = re.match(r'\s*server\.username\s*=\s*"([^"]*)"', line)
            if m:
                user_line = (n, line.strip(), m.group(1))
        if user_line is None:
            yield Hit(key=("web", e.path), evidence=[run.ev(e, None, None, Text(
                          en="no server.username line: lighttpd keeps the privileges it was started with",
                          zh="未设置 server.username：lighttpd 不降权，一直保持启动时的权限"))],
                      params={"path": e.path, "line": "-",
                              "excerpt": Text(en="(no server.username line)", zh="（未设置 server.username）")},
                      data={"server": "lighttpd", "user": None})
        elif user_line[2] in ("root", "") :
            yield Hit(key=("web", e.path), evidence=[run.ev(e, user_line[0], user_line[1])],
                      params={"path": e.path, "line": user_line[0], "excerpt": user_line[1]},
                      data={"server": "lighttpd", "user": user_line[2]})
    for e in run.glob(r"(^|/)boa\.conf$"):
        for ee, n, s in run.config_lines([e]):
            if re.match(r"^User\s+(root|0)$", s):
                yield Hit(key=("web", e.path), evidence=[run.ev(e, n, s)],
                          params={"path": e.path, "line": n, "excerpt": s}, data={"server": "boa", "user": "root"})


REQUEST_SRC = re.compile(r"\$\{?(QUERY_STRING|REQUEST_URI|HTTP_[A-Z_]+|FORM_[A-Za-z0-9_]+|GET_[A-Za-z0-9_]+|"
                         r"POST_[A-Za-z0-9_]+|CONTENT_BODY)\b")
OUTPUT_ONLY = re.compile(r"^\s*(echo|printf|export|local|\[|test|case|#)")
WEB_ROOTS = ("/www", "/usr/www", "/var/www", "/srv/www", "/home/httpd", "/usr/share/www", "/webs", "/web")


@check("SVC-007")
def cgi_injection(run: CheckRun):
    for e in run.regular:
        if not ((in_dir(run.rel(e), *WEB_ROOTS) and (e.path.endswith((".cgi", ".sh")) or "/cgi-bin/" in e.path))
                or "/cgi-bin/" in e.path):
            continue
        if not run.is_text(e):
            continue
        lines = run.lines(e)
        if not lines or not re.match(r"#!\s*\S*/(ba|a|da|hu)?sh\b", lines[0]):
            continue
        tainted: set[str] = set()
        for n, line in enumerate(lines, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            src = REQUEST_SRC.search(s)
            uses = [v for v in tainted if re.search(r"\$\{?" + re.escape(v) + r"\b", s)]
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", s)
            if m and (src or uses) and not re.search(r"\b(eval|sh\s+-c)\b", s):
                tainted.add(m.group(1))  # a variable carrying request data
                continue
            if not (src or uses):
                continue
            cmd_sub = "$(" in s or "`" in s
            if OUTPUT_ONLY.match(s) and not cmd_sub and "eval" not in s:
                continue
            if re.match(r"^\s*(echo|printf)\b", s) and "eval" not in s and not re.search(r"\|\s*(sh|ash|bash)\b", s):
                continue
            what = src.group(1) if src else uses[0]
            yield Hit(key=("cgi", e.path, n), evidence=[run.ev(e, n, s, Text(
                          en=f"request data ({what}) reaches a command",
                          zh=f"请求数据（{what}）未经过滤进入命令执行"))],
                      params={"path": e.path, "line": n, "excerpt": s[:160], "source": what},
                      data={"source": what, "line": n})


# ----------------------------------------------------------------------------- brokers and IoT services
def _mosquitto_confs(run: CheckRun):
    confs = run.glob(r"(^|/)mosquitto[^/]*\.conf$|/mosquitto/conf\.d/[^/]+\.conf$")
    return [e for e in confs if run.is_text(e)]


@check("SVC-010")
def mqtt_broker(run: CheckRun):
    """mosquitto: anonymous access, plaintext listeners on every address, no ACL."""
    for e in _mosquitto_confs(run):
        anon, listeners, acl, auth = None, [], False, False
        cur = None
        for _e, n, s in run.config_lines([e]):
            w = s.split()
            k = w[0].lower()
            if k == "allow_anonymous" and len(w) > 1:
                anon = (n, s) if w[1].lower() == "true" else False
            elif k in ("listener", "port"):
                port = w[1] if len(w) > 1 else "1883"
                bind = w[2] if k == "listener" and len(w) > 2 else None
                cur = {"line": n, "text": s, "port": port, "bind": bind, "tls": False}
                listeners.append(cur)
            elif k == "bind_address" and len(w) > 1 and listeners:
                listeners[-1]["bind"] = w[1]
            elif k in ("certfile", "psk_hint", "cafile", "capath"):
                if cur is not None:
                    cur["tls"] = True
            elif k in ("acl_file", "auth_plugin", "plugin"):
                acl = True
            elif k == "password_file":
                auth = True
        if not listeners and anon:
            listeners = [{"line": anon[0], "text": "(default listener 0.0.0.0:1883)", "port": "1883", "bind": None,
                          "tls": False}]
        open_plain = [l for l in listeners if l["bind"] in (None, "0.0.0.0", "::", "*") and not l["tls"]]
        if not anon and not open_plain:
            continue
        evs, en, zh = [], [], []
        if anon:
            evs.append(run.ev(e, anon[0], anon[1], Text(en="anonymous clients may connect",
                                                         zh="允许匿名客户端连接")))
            en.append("any client may connect without a user name or password (allow_anonymous true)")
            zh.append("任何客户端无需用户名和口令即可连接（allow_anonymous true）")
        for l in open_plain:
            evs.append(run.ev(e, l["line"], l["text"], Text(
                en=f"listener on port {l['port']} on every address, without TLS",
                zh=f"端口 {l['port']} 的监听绑定所有地址且未启用 TLS")))
        if open_plain:
            ports = ", ".join(l["port"] for l in open_plain)
            en.append(f"port {ports} listens on every address without TLS, so credentials and messages cross the network in clear")
            zh.append(f"端口 {ports} 在所有地址上监听且未启用 TLS，口令和消息均以明文在网络上传输")
        if not acl:
            en.append("no ACL limits which topics a client may read or write")
            zh.append("没有 ACL 限制客户端可读写的主题")
        yield Hit(key=("mqtt", e.path), evidence=evs,
                  severity="high" if anon and open_plain else "medium",
                  params={"path": e.path, "problems": Text(en="; ".join(en), zh="；".join(zh))},
                  data={"broker": "mosquitto", "anonymous": bool(anon), "open_plain_ports": [l["port"] for l in open_plain],
                        "acl": acl, "password_file": auth})


IOT_AUTH_OFF = re.compile(
    r"""^\s*(?:option\s+)?["']?(?P<key>[\w.\-]*(?P<proto>rtsp|onvif|coap|modbus)[\w.\-]*?
        (?:auth|authentication|login|password_?check)[\w.\-]*)["']?\s*[=:\s]\s*["']?
        (?P<val>0|false|no|off|none|disabled?|anonymous)["']?\s*;?$""", re.I | re.X)
IOT_DAEMONS = {  # daemon -> (protocol, why it is unauthenticated when started as shown)
    "mbusd": ("Modbus/TCP", Text(en="a Modbus/TCP gateway: the protocol has no authentication, any client on the "
                                    "network can read and write the field devices' registers",
                                 zh="Modbus/TCP 网关：该协议没有认证机制，网络上任何客户端都能读写现场设备的寄存器")),
    "coap-server": ("CoAP", Text(en="a CoAP server started without DTLS keys (-k/-c): requests are neither "
                                    "authenticated nor encrypted",
                                 zh="CoAP 服务启动时未配置 DTLS 密钥（-k/-c）：请求既不认证也不加密")),
}


@check("SVC-011")
def iot_unauthenticated(run: CheckRun):
    """RTSP / ONVIF / CoAP / Modbus services that a config or a start line shows open without authentication."""
    cands = [e for e in run.regular if e.size <= 256 * 1024 and re.search(r"(rtsp|onvif|coap|modbus|camera|ipc|"
                                                                          r"stream|media|mtx)", e.path, re.I)]
    for e, n, s in run.config_lines(cands):
        m = IOT_AUTH_OFF.match(s)
        if m:
            proto = {"rtsp": "RTSP", "onvif": "ONVIF", "coap": "CoAP", "modbus": "Modbus/TCP"}[m.group("proto").lower()]
            yield Hit(key=("iot", proto, e.path), evidence=[run.ev(e, n, s, Text(
                          en=f"{proto} authentication switched off", zh=f"{proto} 认证被关闭"))],
                      params={"proto": proto, "path": e.path,
                              "how": Text(en=f"line {n} ('{s[:120]}') switches authentication off",
                                          zh=f"第 {n} 行（'{s[:120]}'）关闭了认证")},
                      data={"protocol": proto, "key": m.group("key"), "value": m.group("val")})
    for r in startups(run):
        base = posixpath.basename(r.get("program") or "")
        if base not in IOT_DAEMONS:
            continue
        if base == "coap-server" and any(a in ("-k", "-c", "-C", "-j", "-M") for a in r.get("args") or []):
            continue
        proto, why = IOT_DAEMONS[base]
        yield Hit(key=("iot", proto, base), evidence=chain_evidence(run, r),
                  params={"proto": proto, "path": r["entry"].path,
                          "how": Text(en=f"line {r['line']} starts {why.en}", zh=f"第 {r['line']} 行启动了{why.zh}")},
                  data={"protocol": proto, "daemon": base})

"""Exposed services and debug access (SVC-001 .. SVC-008).

What starts at boot is read from inittab, init.d / rc scripts (incl. OpenWrt procd
``procd_set_param command``), inetd.conf / xinetd.d and enabled systemd units; each start is kept
with its file and line (``extra["services"]``).  Nothing from the image is executed.
"""
from __future__ import annotations

import posixpath
import re

from firmpass.checks.base import CheckRun, Hit, in_dir
from firmpass.checks.registry import check
from firmpass.model import Text

DAEMONS = {  # basename -> (class, display name)
    **{d: ("cleartext", "telnetd") for d in ("telnetd", "utelnetd", "in.telnetd")},
    **{d: ("cleartext", "FTP server " + d) for d in ("ftpd", "vsftpd", "proftpd", "pure-ftpd", "bftpd", "in.ftpd",
                                                      "uftpd")},
    **{d: ("cleartext", "TFTP server " + d) for d in ("tftpd", "in.tftpd", "atftpd", "tftpd-hpa", "udpsvd-tftpd")},
    **{d: ("ssh", d) for d in ("dropbear", "sshd")},
    **{d: ("debug", d) for d in ("adbd", "gdbserver", "debugd", "telnetd-debug")},
    **{d: ("discovery", d) for d in ("avahi-daemon", "mdnsd", "umdns", "mDNSResponder", "minissdpd", "wsdd", "wsdd2")},
    **{d: ("upnp", d) for d in ("miniupnpd", "upnpd")},
    **{d: ("web", d) for d in ("lighttpd", "httpd", "uhttpd", "boa", "goahead", "mini_httpd", "thttpd", "nginx")},
}
DAEMON_RX = re.compile(r"(?:^|[\s/;&|'\"(=])(" + "|".join(re.escape(d) for d in sorted(DAEMONS, key=len, reverse=True))
                       + r")(?=$|[\s;&|'\")])")
NC_SHELL = re.compile(r"\b(nc|netcat|ncat|socat)\b.*(-e\s*/bin/(ba)?sh|exec:/bin/(ba)?sh|-l)", re.I)
SKIP_LINE = re.compile(r"^\s*(kill|killall|pkill|echo|printf|\[|test|if\s|elif\s|while\s|case\s|which\s|command\s+-v|"
                       r"start-stop-daemon\s.*--stop|#|local\s|return\s)")
SERIAL_TTY = re.compile(r"^(tty(S|AMA|USB|O|mxc|HS|MSM|PS|MFD|SAC|LP)\d+|console|ttyGS\d+|hvc\d+)$")
SHELLS = re.compile(r"(^|/)-?(sh|ash|bash|hush|msh)$")
# how a service is started (the `via` of startups()), for the evidence detail
STARTED_VIA = {
    "inittab": Text(en="started via inittab", zh="由 /etc/inittab 启动"),
    "init-script": Text(en="started via init-script", zh="由 init 启动脚本启动"),
    "procd": Text(en="started via procd", zh="由 procd（OpenWrt 初始化脚本）启动"),
    "inetd": Text(en="started via inetd", zh="由 inetd 按连接启动"),
    "xinetd": Text(en="started via xinetd", zh="由 xinetd 按连接启动"),
    "systemd": Text(en="started via systemd", zh="由 systemd 单元启动"),
}


SECRET_ARG = re.compile(r"((?:pass(?:word|wd)?|pwd|secret|token|key|psk)[\w-]*(?:=|\s+))([^\s'\";]{3,})", re.I)


def sanitize(cmd: str) -> str:
    """Command lines go into the report: mask values given to password/secret/token options."""
    from firmpass.checks.base import mask

    return SECRET_ARG.sub(lambda m: m.group(1) + mask(m.group(2)) if not m.group(2).startswith(("/", "$"))
                          else m.group(0), cmd)


def service_text(name: str) -> Text:
    """A service's display name (DAEMONS, the netcat listener) for a title or description."""
    for en, zh in (("FTP server ", "FTP 服务 "), ("TFTP server ", "TFTP 服务 ")):
        if name.startswith(en):
            return Text(en=name, zh=zh + name[len(en):])
    if name == "netcat shell listener":
        return Text(en=name, zh="netcat Shell 监听程序")
    return Text(en=name, zh=name)


def startups(run: CheckRun) -> list[dict]:
    """Every command started at boot: {entry, line, command, via, daemon, cls, name}."""
    if "startups" in run.memo:
        return run.memo["startups"]
    out: list[dict] = []

    def add(e, n, cmd, via):
        cmd = sanitize(cmd.strip())
        if not cmd or SKIP_LINE.match(cmd):
            return
        m = DAEMON_RX.search(cmd)
        rec = {"entry": e, "line": n, "command": cmd, "via": via, "daemon": None, "cls": None, "name": None}
        if m:
            d = m.group(1)
            # 'busybox telnetd' or a path/word ending in the daemon name
            rec.update(daemon=d, cls=DAEMONS[d][0], name=DAEMONS[d][1])
        elif NC_SHELL.search(cmd) and ("-e" in cmd or "exec:" in cmd):
            rec.update(daemon="nc", cls="debug", name="netcat shell listener")
        out.append(rec)

    for e in run.find("/etc/inittab"):
        for n, line in enumerate(run.lines(e), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            f = s.split(":", 3)
            if len(f) == 4:
                add(e, n, f[3], "inittab")
    scripts = [e for e in run.regular if (in_dir(run.rel(e), "/etc/init.d", "/etc/rc.d", "/etc/rcS.d", "/etc/init")
                                          or re.match(r"^/etc/rc[0-9S]\.d/", run.rel(e))
                                          or run.rel(e) in ("/etc/rc.local", "/etc/rc", "/etc/rcS", "/etc/profile.d/boot.sh"))]
    for e, n, s in run.config_lines(scripts):
        m = re.match(r"procd_set_param\s+command\s+(.*)", s)
        add(e, n, m.group(1) if m else s, "procd" if m else "init-script")
    for e, n, s in run.config_lines(run.find("/etc/inetd.conf")):
        f = s.split()
        if len(f) >= 6:
            add(e, n, " ".join(f[5:]), "inetd")
    for e in run.glob(r"^/etc/xinetd\.d/"):
        if not run.is_text(e):
            continue
        txt = run.read(e).decode("utf-8", "replace")
        if re.search(r"disable\s*=\s*yes", txt):
            continue
        for n, line in enumerate(txt.splitlines(), 1):
            m = re.match(r"\s*server\s*=\s*(\S+)", line)
            if m:
                add(e, n, m.group(1), "xinetd")
    enabled_units = {posixpath.basename(f.path) for f in run.ctx.result.files
                     if re.match(r"^/etc/systemd/system/.*\.wants/", run.rel(f))}
    for e in run.glob(r"/systemd/system/(?:[^/]+\.wants/)?[^/]+\.service$"):
        base = posixpath.basename(e.path)
        if not (run.rel(e).startswith("/etc/systemd/system/") or base in enabled_units):
            continue
        for n, line in enumerate(run.lines(e), 1):
            m = re.match(r"\s*ExecStart\s*=\s*[-@+!:]*(.*)", line)
            if m:
                add(e, n, m.group(1), "systemd")
    run.memo["startups"] = out
    run.memo["services"] = [{"service": r["name"] or r["daemon"], "class": r["cls"], "path": r["entry"].path,
                             "line": r["line"], "command": r["command"][:200], "via": r["via"],
                             "container": r["entry"].container} for r in out if r["daemon"]]
    return out


def _svc_hits(run: CheckRun, cls: str):
    for r in startups(run):
        if r["cls"] != cls:
            continue
        e = r["entry"]
        note = ""
        if r["daemon"] in ("telnetd", "utelnetd") and re.search(r"-l\s*/bin/(ba)?sh", r["command"]):
            note = Text(en=" It is started with '-l /bin/sh': a root shell without any login.",
                        zh="它以 '-l /bin/sh' 启动：无需登录即可获得 root Shell。")
        yield Hit(key=(cls, r["name"]), evidence=[run.ev(e, r["line"], r["command"], STARTED_VIA[r["via"]])],
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


@check("SVC-003")
def serial_console(run: CheckRun):
    for e in run.find("/etc/inittab"):
        for n, line in enumerate(run.lines(e), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            f = s.split(":", 3)
            if len(f) != 4 or f[2] not in ("respawn", "askfirst", "once", "wait", "off") or f[2] == "off":
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

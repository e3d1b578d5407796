"""Exposed services and debug access (SVC-001 .. SVC-011).

What starts at boot is read from inittab, init.d / rc scripts (incl. OpenWrt procd
``procd_set_param command``), inetd.conf / xinetd.d and enabled systemd units; each start is kept
with its file and line (``extra["services"]``).  Nothing from the image is executed.
"""
from __future__ import annotations

import functools
import posixpath
import re
import shlex

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


USER_PASS_ARG = re.compile(r"(\s-u\s*[^\s:'\";]+:)([^\s'\";]+)")
SECRET_ARG = re.compile(r"((?:pass(?:word|wd)?|pwd|secret|token|key|psk)[\w-]*(?:=|\s+))([^\s'\";]{3,})", re.I)


def sanitize(cmd: str) -> str:
    """Command lines go into the report: mask values given to password/secret/token options."""
    from firmpass.checks.base import mask

    cmd = USER_PASS_ARG.sub(lambda m: m.group(1) + mask(m.group(2)) if not m.group(2).startswith("$")
                            else m.group(0), cmd)
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


# --------------------------------------------------------------------------- start-up graph
# Boot start-up is followed as a graph: from inittab, rc scripts, init.d / rc.d, inetd / xinetd and
# systemd units into the vendor scripts they call (`. file`, `source file`, `sh file`, a direct call,
# `cmd &`), with simple `VAR=value` variables expanded.  Nothing is executed: the text is parsed.
# No shell parser library reads POSIX sh into commands with line numbers and tolerates the broken
# vendor scripts firmware carries (bashlex wants bash and raises on much of it), so this small
# splitter is our own.
GRAPH_MAX_DEPTH = 8  # scripts deep
GRAPH_MAX_LINES = 200_000  # script lines read over the whole walk
WRAPPERS = {"exec", "nohup", "env", "nice", "ionice", "setsid", "chroot", "sudo", "su", "time", "taskset",
            "busybox", "daemon", "daemonize", "timeout", "flock", "stdbuf"}
SHELL_NAMES = {"sh", "ash", "bash", "dash", "hush", "msh"}
PATH_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/etc/scripts", "/etc/init.d")
ASSIGN = re.compile(r"^(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
CAT_FILE = re.compile(r"^(?:`|\$\()\s*cat\s+([^\s`)]+)\s*(?:`|\))$")


def _split_commands(line: str) -> list[tuple[str, bool]]:
    """Simple commands of one shell line, each with whether it runs in the background (`&`).
    Splits on ; && || | & outside quotes and backquotes."""
    out, cur, q, i = [], [], None, 0
    while i < len(line):
        c = line[i]
        if q:
            cur.append(c)
            if c == q:
                q = None
            elif c == "\\" and q == '"' and i + 1 < len(line):
                cur.append(line[i + 1])
                i += 1
        elif c in "'\"`":
            q = c
            cur.append(c)
        elif c == "\\" and i + 1 < len(line):
            cur.append(line[i:i + 2])
            i += 1
        elif c in ";|&":
            two = line[i:i + 2]
            bg = c == "&" and two != "&&" and (i == 0 or line[i - 1] not in ">&<")
            if c == "&" and not bg and two != "&&":
                cur.append(c)  # a redirection like 2>&1
                i += 1
                continue
            out.append(("".join(cur).strip(), bg))
            cur = []
            if two in ("&&", "||", ";;"):
                i += 1
        else:
            cur.append(c)
        i += 1
    out.append(("".join(cur).strip(), False))
    return [(c, bg) for c, bg in out if c]


def _words(cmd: str) -> list[str]:
    """The words of one simple command, as the shell would split them (a copy: callers may change it)."""
    return list(_split_words(cmd))


@functools.lru_cache(maxsize=8192)
def _split_words(cmd: str) -> tuple[str, ...]:
    # cached: the walk meets the same commands once per init script that sources a shared library
    # script (OpenWrt's /etc/rc.common, /lib/functions.sh), and shlex costs ~0.1 ms a command
    try:
        return tuple(shlex.split(cmd, comments=False, posix=True))
    except ValueError:
        return tuple(cmd.split())


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) with backslash continuations joined; comments dropped."""
    out, buf, first = [], "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if not buf:
            first = n
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        out.append((first, buf + s))
        buf = ""
    if buf:
        out.append((first, buf))
    return out


def _strip_keywords(c: str) -> str:
    """Drop shell keywords in front of a command (`then cmd`, `do cmd`, `else cmd`, `{ cmd`)."""
    while True:
        m = re.match(r"^(then|do|else|\{|\(|!)\s+", c)
        if not m:
            return c
        c = c[m.end():]


class _Graph:
    def __init__(self, run: CheckRun):
        self.run = run
        self.out: list[dict] = []
        self.lines_read = 0
        self.seen: dict[tuple, int] = {}  # (container, path, line, command) -> index in out
        self._parsed: dict[tuple[str, str], list] = {}
        self._scripts: dict[tuple[str, str, str, str], object] = {}

    def add(self, e, n, cmd, via, chain, background=False, env=None, text=None):
        raw = cmd.strip()
        cmd = sanitize(raw)
        if not cmd or SKIP_LINE.match(cmd):
            return None
        rec = {"entry": e, "line": n, "command": cmd, "via": via, "daemon": None, "cls": None, "name": None,
               "chain": list(chain), "background": background, "env": env or {}, "raw": raw,
               "text": sanitize((text or raw).strip())}
        prog, args = self._program(raw)
        base = posixpath.basename(prog) if prog else ""
        if base in DAEMONS:
            rec.update(daemon=base, cls=DAEMONS[base][0], name=DAEMONS[base][1])
        elif base in ("nc", "netcat", "ncat", "socat") and NC_SHELL.search(cmd) and ("-e" in cmd or "exec:" in cmd):
            rec.update(daemon="nc", cls="debug", name="netcat shell listener")
        rec["program"], rec["args"] = prog, args
        k = (e.container, e.path, n, cmd)
        if k in self.seen:
            old = self.out[self.seen[k]]
            if len(chain) > len(old["chain"]):
                old["chain"], old["via"] = list(chain), via
            return None
        self.seen[k] = len(self.out)
        self.out.append(rec)
        return rec

    @staticmethod
    def _program(cmd: str) -> tuple[str, list[str]]:
        """The program a simple command runs and its arguments (wrappers like exec, nohup, busybox,
        start-stop-daemon and leading VAR=value assignments skipped)."""
        w = _words(cmd)
        i = 0
        while i < len(w):
            t = w[i]
            base = posixpath.basename(t)
            if ASSIGN.match(t) and i + 1 < len(w):
                i += 1
            elif base in WRAPPERS:
                i += 1
                while i < len(w) and w[i].startswith("-") and base not in ("busybox",):
                    i += 1
            elif base == "start-stop-daemon":
                rest = w[i + 1:]
                if any(a in ("-K", "--stop") for a in rest):
                    return "", []
                for j, a in enumerate(rest):
                    if a in ("-x", "--exec", "-a", "--startas") and j + 1 < len(rest):
                        extra = rest[rest.index("--") + 1:] if "--" in rest else []
                        return rest[j + 1], extra
                    if a.startswith("--exec="):
                        return a.split("=", 1)[1], rest[rest.index("--") + 1:] if "--" in rest else []
                return "", []
            else:
                return t, w[i + 1:]
        return "", []

    def expand(self, text: str, env: dict) -> str:
        return VAR_REF.sub(lambda m: env[m.group(1) or m.group(2)][0]
                           if (m.group(1) or m.group(2)) in env else m.group(0), text)

    def script(self, ref: str, near) -> object:
        """The text script `ref` names, in the root filesystem of `near` (or None)."""
        if not ref or "$" in ref or "*" in ref:
            return None
        here = posixpath.dirname(self.run.rel(near)) if "/" in ref and not ref.startswith("/") else ""
        k = (ref, near.container, self.run.root_of(near), here)
        if k not in self._scripts:
            self._scripts[k] = self._find_script(ref, near)
        return self._scripts[k]

    def _find_script(self, ref: str, near) -> object:
        cands = [ref] if "/" in ref else [d + "/" + ref for d in PATH_DIRS]
        if "/" in ref and not ref.startswith("/"):
            cands = [posixpath.join(posixpath.dirname(self.run.rel(near)), ref), "/" + ref]
        for c in cands:
            t = self.run.lookup(c, near)
            if t is not None and t.type == "file" and self.run.is_text(t) and t.size > 0:
                head = self.run.head(t, 64)
                if head.startswith(b"#!") and not re.match(rb"#!\s*\S*/(ba|a|da|hu)?sh\b", head):
                    return None  # a script for another interpreter (lua, python)
                return t
        return None

    def parsed(self, e) -> list[tuple[int, list[tuple[str, bool]]]]:
        """Script `e` as (line number, its simple commands), parsed once per scan."""
        k = (e.container, e.path)
        if k not in self._parsed:
            text = self.run.read(e).decode("utf-8", "replace")
            self._parsed[k] = [(n, _split_commands(line)) for n, line in _logical_lines(text)]
        return self._parsed[k]

    def walk(self, e, via: str, chain: list, env: dict, depth: int = 0):
        """Every command of script `e` (and of the scripts it calls, depth-first)."""
        if depth > GRAPH_MAX_DEPTH or any(c.path == e.path and c.container == e.container for c in chain[::3]):
            return
        for n, cmds in self.parsed(e):
            self.lines_read += 1
            if self.lines_read > GRAPH_MAX_LINES:
                return
            for cmd, bg in cmds:
                self.command(e, n, cmd, via, chain, env, depth, bg)

    def command(self, e, n, cmd, via, chain, env, depth, bg=False):
        cmd = _strip_keywords(cmd)
        m = re.match(r"procd_set_param\s+command\s+(.*)", cmd)
        if m:
            cmd, via = m.group(1), "procd"
        a = ASSIGN.match(cmd)
        vr = a.group(2).strip() if a else ""
        quoted = len(vr) >= 2 and vr[0] == vr[-1] and vr[0] in "'\""
        if a and (quoted or not re.search(r"\s", vr) or CAT_FILE.match(vr)):
            val = vr[1:-1] if quoted else vr
            cf = CAT_FILE.match(val)
            if cf:  # VAR=`cat /etc/file`: the value is that file's content
                src = self.run.lookup(cf.group(1), e)
                if src is not None and src.type == "file" and self.run.is_text(src):
                    first = (self.run.lines(src) or [""])[0].strip()
                    env[a.group(1)] = (first, src)
                return
            if "$(" not in val and "`" not in val:
                env[a.group(1)] = (self.expand(val, env), None)
            return
        full = self.expand(cmd, env)
        used = {k: env[k] for k in (x.group(1) or x.group(2) for x in VAR_REF.finditer(cmd)) if k in env}
        w = _words(full)
        if not w:
            return
        step = [e, n, cmd]
        if w[0] in (".", "source") and len(w) > 1:
            t = self.script(w[1], e)
            if t is not None:
                self.walk(t, via, chain + step, env, depth + 1)  # sourced: shares the variables
            return
        rec = self.add(e, n, full, via, chain, bg, used, text=cmd)
        prog, args = self._program(full)
        target = None
        if posixpath.basename(prog) in SHELL_NAMES and args and not args[0].startswith("-"):
            target = args[0]
        elif prog and not posixpath.basename(prog) in DAEMONS:
            target = prog
        if target:
            t = self.script(target, e)
            if t is not None and t != e:
                self.walk(t, via, chain + step, dict(env), depth + 1)
        return rec


def startups(run: CheckRun) -> list[dict]:
    """Every command started at boot: {entry, line, command, via, daemon, cls, name, chain, ...};
    `chain` is the flat list [file, line, command, ...] of the calls that led there (entry point first)."""
    if "startups" in run.memo:
        return run.memo["startups"]
    g = _Graph(run)
    for e in run.find("/etc/inittab"):
        for n, line in enumerate(run.lines(e), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            f = s.split(":", 3)
            if len(f) == 4 and f[2] not in ("off", "ctrlaltdel", "shutdown", "restart"):
                g.command(e, n, f[3].lstrip("-"), "inittab", [], {}, 0)
    scripts = [e for e in run.regular if (in_dir(run.rel(e), "/etc/init.d", "/etc/rc.d", "/etc/rcS.d", "/etc/init")
                                          or re.match(r"^/etc/rc[0-9S]\.d/", run.rel(e))
                                          or run.rel(e) in ("/etc/rc.local", "/etc/rc", "/etc/rcS", "/etc/profile.d/boot.sh"))]
    for e in scripts:
        if run.is_text(e):
            g.walk(e, "init-script", [], {})
    for e, n, s in run.config_lines(run.find("/etc/inetd.conf")):
        f = s.split()
        if len(f) >= 6:
            g.command(e, n, " ".join(f[5:]), "inetd", [], {}, 0)
    for e in run.glob(r"^/etc/xinetd\.d/"):
        if not run.is_text(e):
            continue
        txt = run.read(e).decode("utf-8", "replace")
        if re.search(r"disable\s*=\s*yes", txt):
            continue
        server, sargs = None, ""
        for n, line in enumerate(txt.splitlines(), 1):
            m = re.match(r"\s*server\s*=\s*(\S+)", line)
            if m:
                server = (n, m.group(1))
            m = re.match(r"\s*server_args\s*=\s*(.*)", line)
            if m:
                sargs = m.group(1).strip()
        if server:
            g.command(e, server[0], (server[1] + " " + sargs).strip(), "xinetd", [], {}, 0)
    enabled_units = {posixpath.basename(f.path) for f in run.ctx.result.files
                     if re.match(r"^/etc/systemd/system/.*\.wants/", run.rel(f))}
    for e in run.glob(r"/systemd/system/(?:[^/]+\.wants/)?[^/]+\.service$"):
        base = posixpath.basename(e.path)
        if not (run.rel(e).startswith("/etc/systemd/system/") or base in enabled_units):
            continue
        for n, line in enumerate(run.lines(e), 1):
            m = re.match(r"\s*ExecStart\s*=\s*[-@+!:]*(.*)", line)
            if m:
                g.command(e, n, m.group(1), "systemd", [], {}, 0)
    out = g.out
    run.memo["startups"] = out
    run.memo["services"] = [{"service": r["name"] or r["daemon"], "class": r["cls"], "path": r["entry"].path,
                             "line": r["line"], "command": r["command"][:200], "via": r["via"],
                             "container": r["entry"].container,
                             "chain": [f"{r['chain'][i].path}:{r['chain'][i + 1]}" for i in range(0, len(r["chain"]), 3)]}
                            for r in out if r["daemon"]]
    return out


def chain_evidence(run: CheckRun, r: dict) -> list:
    """Evidence for a started command: the line that starts it, then each call that led there."""
    evs = [run.ev(r["entry"], r["line"], r["text"], STARTED_VIA[r["via"]])]
    ch = r["chain"]
    for i in range(0, len(ch), 3):
        evs.append(run.ev(ch[i], ch[i + 1], sanitize(ch[i + 2]), Text(
            en=f"boot chain step {i // 3 + 1}: calls the next script", zh=f"启动调用链第 {i // 3 + 1} 步：调用下一个脚本")))
    return evs


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

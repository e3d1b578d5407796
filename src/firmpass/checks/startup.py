"""What starts at boot, followed as a graph (the `startups` the service, credential and logging
checks read).

Entry points: inittab, init.d / rc scripts (incl. OpenWrt procd ``procd_set_param command``),
inetd.conf / xinetd.d and enabled systemd units.  From each, the shell text is split into simple
commands (checks/shell.py) and followed into the vendor scripts they call (`. file`, `source file`,
`sh file`, a direct call, `cmd &`), with simple `VAR=value` variables expanded.  Each start is kept
with its file and line (``extra["checks_services"]``).  Nothing from the image is executed: the
text is parsed.
"""
from __future__ import annotations

import posixpath
import re

from firmpass.checks.base import CheckRun, in_dir
from firmpass.checks.shell import ASSIGN, CAT_FILE, VAR_REF, logical_lines, split_commands, strip_keywords, words
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
NC_SHELL = re.compile(r"\b(nc|netcat|ncat|socat)\b.*(-e\s*/bin/(ba)?sh|exec:/bin/(ba)?sh|-l)", re.I)
SKIP_LINE = re.compile(r"^\s*(kill|killall|pkill|echo|printf|\[|test|if\s|elif\s|while\s|case\s|which\s|command\s+-v|"
                       r"start-stop-daemon\s.*--stop|#|local\s|return\s)")
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


GRAPH_MAX_DEPTH = 8  # scripts deep
GRAPH_MAX_LINES = 200_000  # script lines read over the whole walk
WRAPPERS = {"exec", "nohup", "env", "nice", "ionice", "setsid", "chroot", "sudo", "su", "time", "taskset",
            "busybox", "daemon", "daemonize", "timeout", "flock", "stdbuf"}
SHELL_NAMES = {"sh", "ash", "bash", "dash", "hush", "msh"}
PATH_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/etc/scripts", "/etc/init.d")


class _Graph:
    """The walk over the boot scripts: every command met (`out`), each script parsed and looked up once."""

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
        w = words(cmd)
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
            self._parsed[k] = [(n, split_commands(line)) for n, line in logical_lines(text)]
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
        cmd = strip_keywords(cmd)
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
        w = words(full)
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
    for entry_point in (_from_inittab, _from_init_scripts, _from_inetd, _from_xinetd, _from_systemd):
        entry_point(run, g)
    out = g.out
    run.memo["startups"] = out
    run.memo["services"] = _service_records(out)
    return out


def inittab_entries(run: CheckRun):
    """(file, line number, [id, runlevels, action, process]) of every entry of each /etc/inittab."""
    for e in run.find("/etc/inittab"):
        for n, line in enumerate(run.lines(e), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            f = s.split(":", 3)
            if len(f) == 4:
                yield e, n, f


def _from_inittab(run: CheckRun, g: _Graph) -> None:
    """The processes /etc/inittab starts (not the ones it runs at shutdown or on ctrl-alt-del)."""
    for e, n, f in inittab_entries(run):
        if f[2] not in ("off", "ctrlaltdel", "shutdown", "restart"):
            g.command(e, n, f[3].lstrip("-"), "inittab", [], {}, 0)


def _from_init_scripts(run: CheckRun, g: _Graph) -> None:
    """The init.d / rc.d / rcN.d scripts and rc.local-style boot scripts, each walked with what it calls."""
    scripts = [e for e in run.regular if (in_dir(run.rel(e), "/etc/init.d", "/etc/rc.d", "/etc/rcS.d", "/etc/init")
                                          or re.match(r"^/etc/rc[0-9S]\.d/", run.rel(e))
                                          or run.rel(e) in ("/etc/rc.local", "/etc/rc", "/etc/rcS", "/etc/profile.d/boot.sh"))]
    for e in scripts:
        if run.is_text(e):
            g.walk(e, "init-script", [], {})


def _from_inetd(run: CheckRun, g: _Graph) -> None:
    """The servers /etc/inetd.conf starts per connection (its sixth field on)."""
    for e, n, s in run.config_lines(run.find("/etc/inetd.conf")):
        f = s.split()
        if len(f) >= 6:
            g.command(e, n, " ".join(f[5:]), "inetd", [], {}, 0)


def _from_xinetd(run: CheckRun, g: _Graph) -> None:
    """The server (with its server_args) of each xinetd.d service that is not disabled."""
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


def _from_systemd(run: CheckRun, g: _Graph) -> None:
    """The ExecStart lines of the systemd units that are enabled (in /etc/systemd/system or wanted there)."""
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


def _service_records(out: list[dict]) -> list[dict]:
    """The known daemons among the starts, as extra.checks_services publishes them (model.ServiceStart)."""
    return [{"service": r["name"] or r["daemon"], "class": r["cls"], "path": r["entry"].path,
             "line": r["line"], "command": r["command"][:200], "via": r["via"],
             "container": r["entry"].container,
             "chain": [f"{r['chain'][i].path}:{r['chain'][i + 1]}" for i in range(0, len(r["chain"]), 3)]}
            for r in out if r["daemon"]]


def chain_evidence(run: CheckRun, r: dict) -> list:
    """Evidence for a started command: the line that starts it, then each call that led there."""
    evs = [run.ev(r["entry"], r["line"], r["text"], STARTED_VIA[r["via"]])]
    ch = r["chain"]
    for i in range(0, len(ch), 3):
        evs.append(run.ev(ch[i], ch[i + 1], sanitize(ch[i + 2]), Text(
            en=f"boot chain step {i // 3 + 1}: calls the next script", zh=f"启动调用链第 {i // 3 + 1} 步：调用下一个脚本")))
    return evs

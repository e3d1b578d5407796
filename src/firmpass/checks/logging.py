"""Where logs go (LOG-001, LOG-002): busybox syslogd -R/-L, syslog.conf @host / @@host, rsyslog
omfwd / legacy forwarding, syslog-ng network destinations, log-shipping agents started at boot."""
from __future__ import annotations

import re

from firmpass.checks.base import CheckRun, Hit
from firmpass.checks.registry import check
from firmpass.checks.startup import startups
from firmpass.model import Evidence, Text

# how logs leave the device (the `via` of a remote destination), for the evidence detail
VIA_ZH = {"syslogd -R": "syslogd -R 远程转发", "agent": "由日志转发代理发送", "syslog TCP": "syslog 经 TCP 转发",
          "syslog UDP": "syslog 经 UDP 转发", "rsyslog omfwd": "rsyslog omfwd 转发",
          "syslog-ng": "syslog-ng 网络目标"}
AGENTS = re.compile(r"(^|/)(fluent-bit|fluentd|td-agent|filebeat|promtail|vector|logstash|nxlog|remote_syslog)(\s|$)")


def log_destinations(run: CheckRun) -> dict:
    if "logging" in run.memo:
        return run.memo["logging"]
    remote, local, daemons = [], [], []
    for r in startups(run):
        cmd, e = r["command"], r["entry"]
        if re.search(r"(^|[\s/])(syslogd|rsyslogd|syslog-ng|logd)(\s|$)", cmd):
            daemons.append({"path": e.path, "line": r["line"], "command": cmd})
            m = re.search(r"\s-R\s*(\S+)", cmd)
            if m:
                remote.append({"entry": e, "line": r["line"], "text": cmd, "target": m.group(1), "via": "syslogd -R"})
            if re.search(r"\s-O\s*(\S+)", cmd):
                local.append({"path": e.path, "target": re.search(r"\s-O\s*(\S+)", cmd).group(1)})
            elif "syslogd" in cmd and not m:
                local.append({"path": e.path, "target": "/var/log/messages (busybox default)"})
        if AGENTS.search(cmd):
            name = AGENTS.search(cmd).group(2)
            remote.append({"entry": e, "line": r["line"], "text": cmd, "target": f"{name} (log shipping agent)",
                           "target_zh": f"{name}（日志转发代理）", "via": "agent"})
    confs = run.glob(r"^/etc/(r?syslog(-ng)?\.conf|rsyslog\.d/[^/]+\.conf|syslog-ng/[^/]+\.conf)$")
    for e, n, s in run.config_lines(confs):
        m = re.match(r"^\S+\s+(@@?)(\(o\))?([\w.\-:\[\]]+)", s)
        if m:
            remote.append({"entry": e, "line": n, "text": s, "target": m.group(3),
                           "via": "syslog TCP" if m.group(1) == "@@" else "syslog UDP"})
            continue
        m = re.search(r'type\s*=\s*"omfwd".*target\s*=\s*"([^"]+)"', s)
        if m:
            remote.append({"entry": e, "line": n, "text": s, "target": m.group(1), "via": "rsyslog omfwd"})
            continue
        m = re.search(r'\b(network|tcp|udp|syslog)\s*\(\s*"?([\w.\-:]+)"?', s)
        if m and "destination" in s or (m and e.path.endswith("syslog-ng.conf") and m.group(1) in ("network", "tcp", "udp")):
            remote.append({"entry": e, "line": n, "text": s, "target": m.group(2), "via": "syslog-ng"})
            continue
        m = re.match(r"^\S+\s+-?(/\S+)", s)
        if m and not m.group(1).startswith("/dev/"):
            local.append({"path": e.path, "target": m.group(1)})
    res = {"remote": remote, "local": local, "daemons": daemons}
    run.memo["logging"] = {"remote": [{"path": r["entry"].path, "line": r["line"], "target": r["target"],
                                       "via": r["via"], "container": r["entry"].container} for r in remote],
                           "local": local, "daemons": daemons}
    run.memo["_logging"] = res
    return res


@check("LOG-001")
def forwarding(run: CheckRun):
    log_destinations(run)
    by: dict[tuple[str, str], list[dict]] = {}
    for r in run.memo["_logging"]["remote"]:
        by.setdefault((r["entry"].container, r["entry"].path), []).append(r)
    for (_c, path), rs in by.items():
        targets = list(dict.fromkeys(r["target"] for r in rs))
        targets_zh = list(dict.fromkeys(r.get("target_zh", r["target"]) for r in rs))
        yield Hit(key=("fwd", path),
                  evidence=[run.ev(r["entry"], r["line"], r["text"],
                                   Text(en=f"{r['via']} -> {r['target']}",
                                        zh=f"{VIA_ZH[r['via']]}，目标 {r.get('target_zh', r['target'])}"))
                            for r in rs],
                  params={"path": path, "targets": Text(en=", ".join(targets), zh="、".join(targets_zh))},
                  data={"targets": targets, "via": sorted({r["via"] for r in rs})})


@check("LOG-002")
def no_local(run: CheckRun):
    d = log_destinations(run)
    if run.system and not d["local"]:
        cmds = "; ".join(x["command"][:80] for x in d["daemons"])
        detail = Text(en="syslog daemons: " + (cmds or "none"), zh="syslog 守护进程：" + (cmds or "无"))
        evs = [Evidence(path=x["path"], line=x["line"], excerpt=x["command"][:200], detail=Text(
                   en="syslog daemon started without local file target",
                   zh="syslog 守护进程已启动，但没有写入本地文件的目标")) for x in d["daemons"]] or [
            Evidence(path=pre + "/etc", container=c, detail=Text(en="no syslog daemon or configuration found",
                                                                 zh="未找到 syslog 守护进程或其配置文件"))
            for c in run.containers for pre in ([p for p in run.roots.get(c, ()) if p] or [""])]
        yield Hit(key=("nolocal",), evidence=evs, params={"detail": detail}, data={"daemons": d["daemons"]})

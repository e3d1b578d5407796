"""Credential checks (CRED-001 .. CRED-006): /etc/passwd, /etc/shadow, web user files.

Hash cracking uses passlib (md5_crypt, sha256_crypt, sha512_crypt, des_crypt, bcrypt, apr_md5_crypt)
against the built-in list ``data/default_passwords.txt``, bounded in time per hash and overall; each
distinct hash is tried once per scan even when the filesystem appears in several containers.
"""
from __future__ import annotations

import posixpath
import re
import time
from functools import lru_cache
from importlib import resources

from firmpass.checks.base import CheckRun, Hit, mask, mask_text
from firmpass.checks.registry import check
from firmpass.i18n import msg
from firmpass.model import Text

NOLOGIN = {"/bin/false", "/usr/bin/false", "/sbin/nologin", "/usr/sbin/nologin", "/bin/nologin", "/dev/null", ""}
HASH_BUDGET_S = 1.5  # per distinct hash
TOTAL_BUDGET_S = 4.0  # all cracking in one scan
# Cost ceilings read from the hash itself before any verify: the time budget is checked between
# verifies, so one verify must be cheap.  Defaults of the schemes are far below these
# (sha-crypt 5000 rounds, bcrypt cost 10-12); an image that asks for more is not tried.
MAX_SHA_ROUNDS = 200_000
MAX_BCRYPT_COST = 13


def hash_cost(h: str, scheme: str | None) -> tuple[int, int] | None:
    """(cost, ceiling) when the hash asks for more work per verify than we allow, else None.
    Parsed from the string: `$5$/$6$rounds=N$`, bcrypt `$2b$NN$`.  A cost that does not parse is
    treated as over the ceiling (verify would fail or be unbounded anyway)."""
    if scheme in ("sha256_crypt", "sha512_crypt"):
        m = re.match(r"\$[56]\$rounds=([^$]*)\$", h)
        if not m:
            return None
        txt = m.group(1)
        cost = int(txt) if txt.isdigit() and len(txt) <= 12 else 10**12
        return (cost, MAX_SHA_ROUNDS) if cost > MAX_SHA_ROUNDS else None
    if scheme == "bcrypt":
        txt = h[4:6]
        cost = int(txt) if txt.isdigit() else 99
        return (cost, MAX_BCRYPT_COST) if cost > MAX_BCRYPT_COST else None
    return None


@lru_cache(maxsize=None)
def default_passwords() -> tuple[str, ...]:
    txt = resources.files("firmpass.checks").joinpath("data", "default_passwords.txt").read_text("utf-8")
    return tuple(l.strip() for l in txt.splitlines() if l.strip() and not l.lstrip().startswith("#"))


def scheme_of(h: str) -> str | None:
    """passlib handler name for a crypt(3) string, or None when it is no hash (locked, empty)."""
    if not h or h[0] in "*!" or h in ("x", "NP", "LK"):
        return None
    if h.startswith("$1$"):
        return "md5_crypt"
    if h.startswith("$apr1$"):
        return "apr_md5_crypt"
    if h.startswith("$5$"):
        return "sha256_crypt"
    if h.startswith("$6$"):
        return "sha512_crypt"
    if h.startswith(("$2a$", "$2b$", "$2y$")):
        return "bcrypt"
    if h.startswith("$y$"):
        return "yescrypt"
    if re.fullmatch(r"[./0-9A-Za-z]{13}", h):
        return "des_crypt"
    if h.startswith("_") and len(h) == 20:
        return "bsdi_crypt"
    return "unknown"


SCHEME_LABEL = {"md5_crypt": "MD5-crypt ($1$)", "apr_md5_crypt": "Apache MD5 ($apr1$)", "des_crypt": "DES-crypt",
                "bsdi_crypt": "BSDi DES-crypt", "sha256_crypt": "SHA-256-crypt ($5$)",
                "sha512_crypt": "SHA-512-crypt ($6$)", "bcrypt": "bcrypt", "yescrypt": "yescrypt"}
WEAK = {"md5_crypt", "apr_md5_crypt", "des_crypt", "bsdi_crypt"}


def crack(run: CheckRun, h: str, user: str) -> str | None:
    """The default password matching `h`, or None. Memoised per hash; time-bounded."""
    memo = run.memo.setdefault("cracked", {})
    if h in memo:
        return memo[h]
    scheme = scheme_of(h)
    result = None
    spent = run.memo.setdefault("crack_seconds", 0.0)
    over = hash_cost(h, scheme)
    if over is not None:
        run.memo.setdefault("cost_skipped", {})[h] = over
        memo[h] = None
        return None
    if scheme and scheme not in ("unknown", "yescrypt") and spent < TOTAL_BUDGET_S:
        from passlib import hash as ph

        handler = getattr(ph, scheme)
        t0 = time.perf_counter()
        cands = [user] + [p for p in default_passwords() if p != user]
        for pw in cands:
            try:
                if handler.verify(pw, h):
                    result = pw
                    break
            except Exception:  # noqa: BLE001 - malformed hash or missing backend (e.g. no bcrypt module)
                break
            if time.perf_counter() - t0 > HASH_BUDGET_S:
                break
        run.memo["crack_seconds"] = spent + time.perf_counter() - t0
    memo[h] = result
    return result


def accounts(run: CheckRun) -> list[dict]:
    """Accounts per filesystem: passwd joined with shadow, with file/line evidence for both."""
    if "accounts" in run.memo:
        return run.memo["accounts"]
    out = []
    for pw in run.find("/etc/passwd"):
        if not run.is_text(pw):
            continue
        shadow = {}
        sh_ent = run.lookup("/etc/shadow", pw)
        if sh_ent is not None and sh_ent.type == "file" and run.is_text(sh_ent):
            for n, line in enumerate(run.lines(sh_ent), 1):
                f = line.split(":")
                if len(f) >= 2 and f[0]:
                    shadow[f[0]] = (f[1], n, line)
        for n, line in enumerate(run.lines(pw), 1):
            f = line.split(":")
            if len(f) < 7 or not f[0] or line.startswith("#"):
                continue
            try:
                uid = int(f[2])
            except ValueError:
                continue
            acc = {"user": f[0], "uid": uid, "shell": f[6].strip(), "container": pw.container,
                   "passwd": pw, "passwd_line": n, "passwd_text": line}
            if f[1] == "x" and f[0] in shadow and sh_ent is not None:
                acc.update(hash=shadow[f[0]][0], src=sh_ent, src_line=shadow[f[0]][1], src_text=shadow[f[0]][2])
            elif f[1] != "x":
                acc.update(hash=f[1], src=pw, src_line=n, src_text=line)
            else:
                acc.update(hash=None, src=pw, src_line=n, src_text=line)
            out.append(acc)
    run.memo["accounts"] = out
    return out


def _hash_masked(line: str, h: str | None) -> str:
    if not h or len(h) < 8:
        return line
    return line.replace(h, h[: h.rfind("$") + 3] + "***" if "$" in h else h[:2] + "***")


@check("CRED-001")
def empty_password(run: CheckRun):
    for a in accounts(run):
        if a["hash"] == "" and a["shell"] not in NOLOGIN:
            yield Hit(key=("user", a["user"]), evidence=[run.ev(a["src"], a["src_line"], a["src_text"], Text(
                          en="empty password field", zh="口令字段为空：无需口令即可登录"))],
                      params={"user": a["user"], "shell": a["shell"], "path": a["src"].path},
                      data={"user": a["user"], "uid": a["uid"], "shell": a["shell"]})


@check("CRED-002")
def default_password(run: CheckRun):
    for a in accounts(run):
        h = a["hash"]
        if not h or scheme_of(h) in (None, "unknown"):
            continue
        pw = crack(run, h, a["user"])
        over = run.memo.get("cost_skipped", {}).get(h)
        if over is not None and (h, a["src"].path) not in run.memo.setdefault("cost_warned", set()):
            run.memo["cost_warned"].add((h, a["src"].path))
            run.ctx.warn("checks", "hash_cost_skipped",
                         msg("checks.warn.hash_cost_skipped", user=a["user"], path=a["src"].path,
                             line=a["src_line"], cost=over[0], limit=over[1]), a["container"])
        if pw is None:
            continue
        scheme = scheme_of(h)
        yield Hit(key=("user", a["user"], a["src"].path),
                  evidence=[run.ev(a["src"], a["src_line"], _hash_masked(a["src_text"], h),
                                   Text(en=f"cracked {SCHEME_LABEL.get(scheme, scheme)} hash",
                                        zh=f"{SCHEME_LABEL.get(scheme, scheme)} 哈希已被破解"))],
                  params={"user": a["user"], "path": a["src"].path, "masked": mask_text(pw),
                          "how": Text(en=f"cracked from its {SCHEME_LABEL.get(scheme, scheme)} hash",
                                      zh=f"由其 {SCHEME_LABEL.get(scheme, scheme)} 哈希破解得到"),
                          "where": Text(en="system account", zh="系统账户")},
                  data={"user": a["user"], "scheme": scheme, "password_masked": mask(pw), "uid": a["uid"]})
    for u in web_users(run):
        if u["plaintext"] and u["password"] in default_passwords() or (u["plaintext"] and u["password"] == u["user"]):
            yield Hit(key=("user", u["user"], u["entry"].path),
                      evidence=[run.ev(u["entry"], u["line"], f'{u["user"]}:{mask(u["password"])}',
                                       Text(en="plaintext", zh="明文口令"))],
                      params={"user": u["user"], "path": u["entry"].path, "masked": mask_text(u["password"]),
                              "how": Text(en="stored in plain text", zh="以明文保存"),
                              "where": Text(en="web login", zh="Web 登录")},
                      data={"user": u["user"], "scheme": "plaintext", "password_masked": mask(u["password"])})


@check("CRED-003")
def weak_hash(run: CheckRun):
    for a in accounts(run):
        s = scheme_of(a["hash"] or "")
        if s in WEAK:
            yield Hit(key=("user", a["user"]),
                      evidence=[run.ev(a["src"], a["src_line"], _hash_masked(a["src_text"], a["hash"]),
                                       Text(en=f"weak {SCHEME_LABEL[s]} hash", zh=f"弱哈希算法 {SCHEME_LABEL[s]}"))],
                      params={"user": a["user"], "scheme": SCHEME_LABEL[s], "path": a["src"].path},
                      data={"user": a["user"], "scheme": s})


@check("CRED-004")
def shared_hash(run: CheckRun):
    by: dict[tuple[str, str], list[dict]] = {}
    for a in accounts(run):
        if a["hash"] and scheme_of(a["hash"]) not in (None,):
            by.setdefault((a["container"], a["hash"]), []).append(a)
    for (_c, h), accs in by.items():
        if len(accs) < 2:
            continue
        users = sorted(a["user"] for a in accs)
        yield Hit(key=("hash", h), evidence=[run.ev(a["src"], a["src_line"], _hash_masked(a["src_text"], h))
                                              for a in accs],
                  params={"users": users, "path": accs[0]["src"].path}, data={"users": users})


@check("CRED-005")
def extra_uid0(run: CheckRun):
    for a in accounts(run):
        if a["uid"] == 0 and a["user"] != "root":
            yield Hit(key=("user", a["user"]), evidence=[run.ev(a["passwd"], a["passwd_line"], a["passwd_text"])],
                      params={"user": a["user"], "path": a["passwd"].path},
                      data={"user": a["user"], "shell": a["shell"], "login": a["shell"] not in NOLOGIN})


# ----------------------------------------------------------------------------- web / app user files
HTPASSWD_NAMES = re.compile(r"(^|/)(\.htpasswd|htpasswd|[^/]*\.htpasswd|lighttpd[^/]*\.user|[^/]*users?\.txt)$")


def _userfiles(run: CheckRun) -> dict[tuple[str, str], bool]:
    """(container, path) of user:password files -> True when the config says the file is plaintext."""
    found: dict[tuple[str, str], bool] = {}
    for e in run.regular:
        if HTPASSWD_NAMES.search(e.path):
            found[(e.container, e.path)] = (False, e)
    for e, n, line in run.config_lines(run.glob(r"(^|/)lighttpd[^/]*\.conf$|/lighttpd/.*\.conf$")):
        m = re.match(r'auth\.backend\.(plain|htpasswd|htdigest)\.userfile\s*=\s*"([^"]+)"', line)
        if m:
            found[(e.container, posixpath.normpath(m.group(2)))] = (m.group(1) == "plain", e)
    return found


def web_users(run: CheckRun) -> list[dict]:
    if "web_users" in run.memo:
        return run.memo["web_users"]
    out = []
    for (c, path), (plain_backend, near) in _userfiles(run).items():
        e = near if near.path == path else run.lookup(path, near)
        if e is None or e.type != "file" or not run.is_text(e):
            continue
        for n, line in enumerate(run.lines(e), 1):
            if not line.strip() or line.startswith("#") or ":" not in line:
                continue
            user, _, pw = line.partition(":")
            if ":" in pw and not plain_backend:  # htdigest user:realm:hash
                continue
            looks_hashed = scheme_of(pw) not in ("unknown", None) or pw.startswith(("{SHA}", "{SSHA}"))
            out.append({"user": user, "password": pw, "entry": e, "line": n, "text": line,
                        "plaintext": plain_backend or not looks_hashed,
                        "how": (Text(en="lighttpd auth.backend = plain", zh="lighttpd 配置为 auth.backend = plain")
                                if plain_backend else Text(en="user:password line", zh="“用户名:口令”明文行"))})
    run.memo["web_users"] = out
    return out


@check("CRED-006")
def plaintext_credentials(run: CheckRun):
    for u in web_users(run):
        if u["plaintext"] and u["password"]:
            yield Hit(key=("user", u["user"], u["entry"].path),
                      evidence=[run.ev(u["entry"], u["line"], f'{u["user"]}:{mask(u["password"])}', u["how"])],
                      params={"user": u["user"], "path": u["entry"].path, "how": u["how"]},
                      data={"user": u["user"], "password_masked": mask(u["password"]),
                            "is_default": u["password"] in default_passwords()})


# ----------------------------------------------------------------------------- hard-coded logins
@lru_cache(maxsize=None)
def backdoor_accounts() -> frozenset[str]:
    txt = resources.files("firmpass.checks").joinpath("data", "backdoor_accounts.txt").read_text("utf-8")
    return frozenset(l.strip().lower() for l in txt.splitlines() if l.strip() and not l.lstrip().startswith("#"))


LOGIN_PROGS = {"login", "telnetd", "utelnetd", "in.telnetd", "getty", "agetty"}


def _login_credentials(r: dict):
    """(user, password or None, how) for a hard-coded login in one started command, or None."""
    raw, prog = r.get("raw") or r["command"], posixpath.basename(r.get("program") or "")
    m = re.search(r"(?:^|\s)-u\s*([^\s:'\";]+):([^\s'\";]*)", raw)
    if m and prog in ("telnetd", "utelnetd", "in.telnetd"):
        return m.group(1), m.group(2), "telnetd -u"
    m = re.search(r"(?:^|[\s/\"'])login\s+(?:-\w+\s+)*-f\s+([^\s'\";]+)", raw)
    if m and prog in LOGIN_PROGS:
        return m.group(1), None, "login -f"
    return None


@check("CRED-007")
def hardcoded_login(run: CheckRun):
    from firmpass.checks.startup import chain_evidence, startups

    # a publicly reported vendor maintenance account present in the account database with a login shell
    for a in accounts(run):
        if a["user"].lower() in backdoor_accounts() and a["shell"] not in NOLOGIN and a["hash"] not in ("*", "!"):
            yield Hit(key=("login", a["user"], "account"), evidence=[run.ev(a["passwd"], a["passwd_line"], a["passwd_text"], Text(
                          en="publicly reported vendor backdoor account", zh="公开报道过的厂商后门账户"))],
                      params={"user": a["user"], "path": a["passwd"].path, "line": a["passwd_line"],
                              "what": Text(en=f"the account '{a['user']}' (shell {a['shell']}) is a vendor maintenance login",
                                           zh=f"账户 '{a['user']}'（Shell 为 {a['shell']}）是厂商维护登录账户"),
                              "note": Text(en=f" '{a['user']}' is a publicly reported vendor backdoor account.",
                                           zh=f"'{a['user']}' 是公开报道过的厂商后门账户。"),
                              "command": a["passwd_text"]},
                      data={"user": a["user"], "how": "account", "password_masked": None, "password_file": None,
                            "known_backdoor": True, "daemon": None})

    for r in startups(run):
        got = _login_credentials(r)
        if got is None:
            continue
        user, pw, how = got
        evs = chain_evidence(run, r)
        src_note = Text(en="", zh="")
        pw_from = None
        # which variable gave the password, and was it read from a file in the image?
        for var, (val, src) in (r.get("env") or {}).items():
            if pw and val and val == pw and src is not None:
                pw_from = src
                evs.append(run.ev(src, 1, mask(val), Text(
                    en=f"the password (${var}) is read from this file in the image",
                    zh=f"口令（${var}）读自镜像中的这个文件")))
        if pw_from is not None:
            src_note = Text(en=f" The password is the content of {pw_from.path}, shipped in the image.",
                            zh=f"口令就是镜像中 {pw_from.path} 文件的内容。")
        known = user.lower() in backdoor_accounts()
        if known:
            src_note = Text(en=src_note.en + f" '{user}' is a publicly reported vendor backdoor account.",
                            zh=src_note.zh + f"'{user}' 是公开报道过的厂商后门账户。")
        if how == "login -f":
            what = Text(en=f"'login -f {user}' logs '{user}' in without asking for a password",
                        zh=f"'login -f {user}' 不询问口令即让 '{user}' 登录")
        else:
            what = Text(en=f"the login '{user}' and its password ({mask_text(pw or '').en}) are on the command line",
                        zh=f"登录名 '{user}' 及其口令（{mask_text(pw or '').zh}）直接写在命令行中")
        yield Hit(key=("login", user, how), evidence=evs,
                  params={"user": user, "path": r["entry"].path, "line": r["line"], "what": what, "note": src_note,
                          "command": r["text"][:160]},
                  data={"user": user, "how": how, "password_masked": mask(pw) if pw else None,
                        "password_file": pw_from.path if pw_from is not None else None, "known_backdoor": known,
                        "daemon": r.get("daemon")})

"""Keys, certificates and hard-coded secrets (KEY-001 .. KEY-004), parsed with `cryptography`.

Only things that actually parse count: a PEM header string inside libssl or a test vector in a
library is not a key.  Text/config files are parsed for PEM blocks and key=value secrets; small
binary files are tried as DER and dropbear keys; ELF files are only searched for a COMPLETE PEM
private-key block, which must then load as a key.
"""
from __future__ import annotations

import hashlib
import re
import struct
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from firmpass.checks.base import CheckRun, Hit, in_dir, mask, mask_text
from firmpass.checks.registry import check
from firmpass.model import Text

PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n(.{16,65536}?)-----END \1-----", re.S)
LIB_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/share", "/usr/include")
DER_MAX = 16 * 1024
ELF_SCAN_MAX = 64 * 1024 * 1024


def _pub_info(key) -> tuple[str, int, str]:
    """(algorithm, bits, sha256 fingerprint of the SubjectPublicKeyInfo) of a private or public key."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fp = "SHA256:" + hashlib.sha256(spki).hexdigest()[:32]
    if isinstance(pub, rsa.RSAPublicKey):
        return "RSA", pub.key_size, fp
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return f"EC {pub.curve.name}", pub.curve.key_size, fp
    if isinstance(pub, dsa.DSAPublicKey):
        return "DSA", pub.key_size, fp
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, fp
    if isinstance(pub, ed448.Ed448PublicKey):
        return "Ed448", 456, fp
    return type(pub).__name__, 0, fp


def weak(algo: str, bits: int) -> bool:
    if algo in ("RSA", "DSA"):
        return bits < 2048
    if algo.startswith("EC "):
        return bits < 224
    return False


# ----------------------------------------------------------------------------- dropbear key format
def _ssh_fields(data: bytes, n: int) -> list[bytes] | None:
    out, pos = [], 0
    for _ in range(n):
        if pos + 4 > len(data):
            return None
        (ln,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if ln > len(data) - pos or ln > 8192:
            return None
        out.append(data[pos: pos + ln])
        pos += ln
    return out


def parse_dropbear(data: bytes):
    """A dropbear private host key (SSH wire format: type string, then the key's numbers).

    Written here because `cryptography` reads OpenSSH but not dropbear's own format. The key is
    rebuilt and checked (RSA: p*q == n) so random bytes never pass."""
    if len(data) > DER_MAX:
        return None
    f = _ssh_fields(data, 1)
    if not f:
        return None
    kind = f[0]
    if kind == b"ssh-rsa":
        f = _ssh_fields(data, 6)
        if not f:
            return None
        e, n, d, p, q = (int.from_bytes(x, "big") for x in f[1:6])
        if p * q != n or n < 3 or e < 3:
            return None
        try:
            dmp1, dmq1, iqmp = d % (p - 1), d % (q - 1), pow(q, -1, p)
            return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, rsa.RSAPublicNumbers(e, n)).private_key()
        except (ValueError, ArithmeticError):
            return None
    if kind == b"ssh-ed25519":
        f = _ssh_fields(data, 3)
        if f and len(f[2]) in (32, 64):
            try:
                return ed25519.Ed25519PrivateKey.from_private_bytes(f[2][:32])
            except ValueError:
                return None
    if kind.startswith(b"ecdsa-sha2-nistp"):
        f = _ssh_fields(data, 4)
        curves = {b"nistp256": ec.SECP256R1(), b"nistp384": ec.SECP384R1(), b"nistp521": ec.SECP521R1()}
        if f and f[1] in curves:
            try:
                k = ec.derive_private_key(int.from_bytes(f[3], "big"), curves[f[1]])
                pub = k.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
                return k if pub == f[2] else None
            except ValueError:
                return None
    return None


# ----------------------------------------------------------------------------- key discovery
def _load_pem(label: str, block: bytes):
    """(key or None, encrypted?) for one PEM block."""
    if label == "OPENSSH PRIVATE KEY":
        try:
            return serialization.load_ssh_private_key(block, password=None), False
        except (ValueError, TypeError) as e:
            if "password" in str(e).lower() or "encrypt" in str(e).lower():
                return "encrypted", True
            return None, False
    try:
        return serialization.load_pem_private_key(block, password=None), False
    except TypeError:  # "Password was not given but private key is encrypted"
        return "encrypted", True
    except (ValueError, Exception):  # noqa: BLE001 - unsupported/garbled -> not a key
        return None, False


def _use_of(path: str):
    from firmpass.model import Text

    p = path.lower()
    if "dropbear" in p or "ssh_host" in p:
        return "ssh-host", Text(en="SSH host key", zh="SSH 主机密钥")
    if "/.ssh/" in p:
        return "ssh-user", Text(en="SSH user identity key", zh="SSH 用户身份密钥")
    if "ssl" in p or "tls" in p or "https" in p or "lighttpd" in p or p.endswith((".key", ".pem")):
        return "tls", Text(en="TLS / device key", zh="TLS / 设备密钥")
    return "other", Text(en="private key", zh="私钥")


def find_keys(run: CheckRun) -> list[dict]:
    """Every parseable private key in the image, with evidence."""
    if "keys" in run.memo:
        return run.memo["keys"]
    out: list[dict] = []
    cache: dict = {}
    for e in run.regular:
        if e.size < 32:
            continue
        ck = run.content_key(e)
        if ck in cache:
            res = cache[ck]
        else:
            res = cache[ck] = _keys_in(run, e)
        for k in res:
            out.append(dict(k, entry=e))
    run.memo["keys"] = out
    return out


def _keys_in(run: CheckRun, e) -> list[dict]:
    found = []
    text = run.is_text(e)
    if text:
        data = run.read(e)
    elif e.elf is not None or run.head(e, 4) == b"\x7fELF":
        # libraries carry PEM strings and self-test keys (gnutls, libssl): never a device key
        if e.size > ELF_SCAN_MAX or in_dir(run.rel(e), *LIB_DIRS) or ".so" in e.path.rsplit("/", 1)[-1]:
            return []
        data = run.ctx.read(e, ELF_SCAN_MAX)
        if b"PRIVATE KEY-----" not in data:
            return []
    else:
        data = run.ctx.read(e, DER_MAX) if e.size <= DER_MAX else b""
    if b"PRIVATE KEY-----" in data:
        for m in PEM_BLOCK.finditer(data):
            label = m.group(1).decode()
            if "PRIVATE KEY" not in label:
                continue
            key, enc = _load_pem(label, m.group(0))
            if key is None:
                continue
            line = data.count(b"\n", 0, m.start()) + 1
            fmt = {"RSA PRIVATE KEY": "PKCS#1 PEM", "EC PRIVATE KEY": "SEC1 PEM", "PRIVATE KEY": "PKCS#8 PEM",
                   "ENCRYPTED PRIVATE KEY": "encrypted PKCS#8 PEM", "OPENSSH PRIVATE KEY": "OpenSSH",
                   "DSA PRIVATE KEY": "DSA PEM"}.get(label, label)
            if enc or key == "encrypted":
                found.append({"kind": f"encrypted {fmt}", "kind_zh": f"加密的 {fmt}", "algo": "?", "bits": 0,
                              "fp": None, "line": line,
                              "encrypted": True, "excerpt": f"-----BEGIN {label}-----"})
            else:
                algo, bits, fp = _pub_info(key)
                found.append({"kind": f"{algo}-{bits} {fmt}", "algo": algo, "bits": bits, "fp": fp, "line": line,
                              "encrypted": False, "excerpt": f"-----BEGIN {label}-----"})
        return found
    if text or len(data) < 32 or e.size > DER_MAX:
        return found
    key, fmt = None, None
    if data[:1] == b"\x30":
        try:
            key, fmt = serialization.load_der_private_key(data, password=None), "DER"
        except (ValueError, TypeError, Exception):  # noqa: BLE001
            key = None
    if key is None and data[:4] in (b"\0\0\0\x07", b"\0\0\0\x0b", b"\0\0\0\x13"):
        key, fmt = parse_dropbear(data), "dropbear"
    if key is not None:
        algo, bits, fp = _pub_info(key)
        found.append({"kind": f"{algo}-{bits} {fmt}", "algo": algo, "bits": bits, "fp": fp, "line": None,
                      "encrypted": False, "excerpt": None})  # binary: the detail names the key, nothing to quote
    return found


@check("KEY-001")
def private_keys(run: CheckRun):
    for k in find_keys(run):
        e = k["entry"]
        use, use_en = _use_of(e.path)
        kind = _kind(k)
        detail = Text(en=f"{kind.en} private key" + (f", public key {k['fp']}" if k["fp"] else ""),
                      zh=f"{kind.zh} 私钥" + (f"，对应公钥 {k['fp']}" if k["fp"] else ""))
        yield Hit(key=("key", e.path, k["fp"] or k["kind"]),
                  evidence=[run.ev(e, k["line"], k["excerpt"], detail)],
                  params={"path": e.path, "kind": kind, "use": use_en},
                  severity="medium" if k["encrypted"] else None,
                  data={"kind": k["kind"], "algorithm": k["algo"], "bits": k["bits"], "fingerprint": k["fp"],
                        "encrypted": k["encrypted"], "use": use, "universal_identity": True})


def _kind(k: dict) -> Text:
    """A key's kind ("rsa-2048 PKCS#1 PEM", "encrypted PKCS#8 PEM") in both languages."""
    return Text(en=k["kind"], zh=k.get("kind_zh", k["kind"]))


def _certs(run: CheckRun) -> list[dict]:
    if "certs" in run.memo:
        return run.memo["certs"]
    out = []
    cache: dict = {}
    for e in run.regular:
        if in_dir(run.rel(e), *LIB_DIRS) or not run.is_text(e):
            continue
        ck = run.content_key(e)
        if ck not in cache:
            data = run.read(e)
            res = []
            if b"-----BEGIN CERTIFICATE-----" in data:
                for m in PEM_BLOCK.finditer(data):
                    if m.group(1) != b"CERTIFICATE":
                        continue
                    try:
                        res.append((x509.load_pem_x509_certificate(m.group(0)),
                                    data.count(b"\n", 0, m.start()) + 1))
                    except ValueError:
                        continue
            cache[ck] = res
        for cert, line in cache[ck]:
            out.append({"entry": e, "cert": cert, "line": line, "in_bundle": len(cache[ck]) > 3})
    run.memo["certs"] = out
    return out


@check("KEY-002")
def weak_keys(run: CheckRun):
    for k in find_keys(run):
        if weak(k["algo"], k["bits"]):
            e = k["entry"]
            yield Hit(key=("key", e.path, k["fp"]), evidence=[run.ev(e, k["line"], k["excerpt"], Text(
                          en=f"weak key: {k['kind']}", zh=f"弱密钥：{_kind(k).zh}"))],
                      params={"path": e.path, "algo": k["algo"], "bits": k["bits"]},
                      data={"algorithm": k["algo"], "bits": k["bits"], "fingerprint": k["fp"]})
    for c in _certs(run):
        algo, bits, fp = _pub_info(c["cert"].public_key())
        if weak(algo, bits) and not c["in_bundle"]:
            e = c["entry"]
            yield Hit(key=("cert-key", e.path, fp), evidence=[run.ev(e, c["line"], "-----BEGIN CERTIFICATE-----",
                                                                     Text(en=f"certificate public key {algo}-{bits}",
                                                                          zh=f"证书公钥为 {algo}-{bits}"))],
                      params={"path": e.path, "algo": algo, "bits": bits},
                      data={"algorithm": algo, "bits": bits, "fingerprint": fp})


@check("KEY-003")
def certificates(run: CheckRun):
    now = datetime.now(timezone.utc)
    key_fps = {k["fp"] for k in find_keys(run) if k["fp"]}
    for c in _certs(run):
        cert, e = c["cert"], c["entry"]
        if c["in_bundle"]:
            continue  # a CA bundle: its roots are self-signed by design
        problems_en, problems_zh = [], []
        try:
            h = cert.signature_hash_algorithm
            hname = h.name if h else "none"
        except Exception:  # noqa: BLE001 - unsupported algorithm
            hname = "unknown"
        if hname in ("md5", "sha1", "md2", "md4"):
            problems_en.append(f"weak signature ({hname.upper()})")
            problems_zh.append(f"签名算法弱（{hname.upper()}）")
        if cert.not_valid_after_utc < now:
            problems_en.append(f"expired on {cert.not_valid_after_utc.date()}")
            problems_zh.append(f"已于 {cert.not_valid_after_utc.date()} 过期")
        _algo, _bits, fp = _pub_info(cert.public_key())
        self_signed = cert.issuer == cert.subject
        if self_signed and fp in key_fps:
            problems_en.append("self-signed, with its private key in the image")
            problems_zh.append("自签名，且其私钥就在镜像中")
        if not problems_en:
            continue
        subject = cert.subject.rfc4514_string()
        issuer, after = cert.issuer.rfc4514_string(), cert.not_valid_after_utc.isoformat()
        yield Hit(key=("cert", e.path, fp), evidence=[run.ev(e, c["line"], f"subject={subject}", Text(
                      en=f"issuer={issuer}, not after {after}, signature hash {hname}",
                      zh=f"颁发者 issuer={issuer}，有效期至 {after}，签名哈希算法 {hname}"))],
                  params={"path": e.path, "subject": subject, "problems": _both(problems_en, problems_zh)},
                  data={"subject": subject, "self_signed": self_signed, "signature_hash": hname,
                        "not_after": cert.not_valid_after_utc.isoformat(), "public_key": fp,
                        "private_key_in_image": fp in key_fps})


def _both(en: list[str], zh: list[str]):
    from firmpass.model import Text

    return Text(en="; ".join(en), zh="；".join(zh))


# ----------------------------------------------------------------------------- hard-coded secrets
SECRET_KEYS = re.compile(
    r"""^\s*(?:export\s+)?["']?(?P<name>[A-Za-z0-9_.\-]*?(?:password|passwd|passphrase|wpa_passphrase|wpa_psk|psk|ap_pin|
        api[_-]?key|api[_-]?token|apikey|access[_-]?token|auth[_-]?token|secret[_-]?key|client[_-]?secret|
        aws_access_key_id|aws_secret_access_key|private[_-]?key|token|secret))["']?\s*(?:=|:)\s*(?P<value>.*)$""",
    re.I | re.X)
AWS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
# documented public sample values shipped in stock upstream configs (not device secrets):
#  - "pass:insta": OpenSSL's openssl.cnf [cmp] example for the public Insta Demo CA
#    (https://github.com/openssl/openssl/blob/master/apps/openssl.cnf)
PUBLIC_SAMPLES = {"pass:insta", "insta"}
PLACEHOLDER = re.compile(r"^(?:\$|%|<|\{\{|@|\*+$|x+$|null$|none$|changeme_later$|your[_-]|example$|\.\.\.)", re.I)


def _clean_value(v: str) -> str:
    v = re.split(r"\s+[#;]", v, maxsplit=1)[0].strip().rstrip(";,").strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1]
    return v


# files whose "key: value" lines are never secrets: name-service switch, locale / translation tables
NOT_SECRET_FILES = re.compile(r"(^|/)(nsswitch\.conf|host\.conf|services|protocols|mime\.types|"
                              r"[^/]*\.(po|pot|mo|lang|dict|strings|txt|md|html?|css|svg|xml))$", re.I)
# source code: `name = other_name` there is plumbing; only a quoted literal can be a secret
CODE_FILES = re.compile(r"\.(js|mjs|ts|php|lua|py|rb|pl|asp|aspx|jsp|c|h|cgi|sh)$", re.I)
NOT_SECRET_VALUES = {"true", "false", "yes", "no", "on", "off", "none", "null", "nil", "undefined", "empty",
                     "disable", "disabled", "enable", "enabled", "required", "optional", "auto", "default",
                     "compat", "files", "nis", "nisplus", "ldap", "dns", "sss", "systemd", "db", "hesiod",
                     "string", "password", "passwd", "passphrase", "secret", "token", "key", "text", "hidden"}
UI_WORDS = re.compile(r"(pass|secret|token|key|pin|code|phrase|word|confirm|enter|again|new|old|current|"
                      r"login|user|name|please|input|invalid|error|length|char|min|max)", re.I)
SHELL_EXPANSION = re.compile(r"\$[{(A-Za-z_0-9@*#?!$-]|`")
KNOWN_FORMATS = [  # (what, pattern) - token formats with a public, fixed shape
    ("AWS access key id", re.compile(r"^(AKIA|ASIA)[0-9A-Z]{16}$")),
    ("GitHub token", re.compile(r"^gh[pousr]_[A-Za-z0-9]{36,}$")),
    ("Slack token", re.compile(r"^xox[abposr]-[A-Za-z0-9-]{10,}$")),
    ("Google API key", re.compile(r"^AIza[0-9A-Za-z_-]{35}$")),
    ("JSON web token", re.compile(r"^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$")),
    ("hex key", re.compile(r"^(?:0x)?[0-9a-fA-F]{32,}$")),
]


def entropy(v: str) -> float:
    """Shannon entropy in bits per character."""
    import math
    from collections import Counter

    n = len(v)
    return -sum(c / n * math.log2(c / n) for c in Counter(v).values()) if n else 0.0


def secret_value(name: str, raw: str, v: str, code: bool) -> str | None:
    """Why `v` (assigned to the credential-named key `name`) looks like a real secret, or None.

    A secret is a literal: never an expansion (``psk=${key}``), a reference to another variable
    (``this.secret = secret``), a path, a label or UI word (``"Password"``), or a switch value."""
    if len(v) < 4 or " " in v.strip() or PLACEHOLDER.match(v) or v in PUBLIC_SAMPLES:
        return None
    if SHELL_EXPANSION.search(v) or v.startswith(("/", "./", "../")) or v.lower() in NOT_SECRET_VALUES:
        return None
    quoted = raw.lstrip()[:1] in ("'", '"')
    if code and not quoted:
        return None  # an identifier, a call or an expression in source code
    for what, rx in KNOWN_FORMATS:
        if rx.match(v):
            return what
    if v.isalpha() and (v[0].isupper() and v[1:].islower() or v.isupper()) and UI_WORDS.search(v):
        return None  # "Password", "Passphrase", "PIN": a label
    letters = re.sub(r"[^a-z]", "", v.lower())
    if len(letters) >= 3 and letters == v.lower() and letters in re.sub(r"[^a-z]", "", name.lower()):
        return None  # the key's own name as its value: a label or a template
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*", v):
        return None  # a dotted reference (translation key, object member)
    if len(v) >= 16 and entropy(v) >= 3.5:
        return "high-entropy value"
    return "literal credential"


@check("KEY-004")
def hardcoded_secrets(run: CheckRun):
    for e in run.regular:
        if in_dir(run.rel(e), *LIB_DIRS) or e.size == 0 or not run.is_text(e):
            continue
        if e.path.endswith(("passwd", "shadow", "htpasswd", ".pem", ".key", ".crt")):
            continue  # account files and keys have their own checks
        if NOT_SECRET_FILES.search(e.path):
            continue
        data = run.read(e)
        low = data.lower()
        if not any(t in low for t in (b"pass", b"secret", b"token", b"key", b"psk", b"pin", b"akia", b"asia")):
            continue
        code = bool(CODE_FILES.search(e.path)) or data.startswith(b"#!")
        names, evs, kinds = [], [], []
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            s = line.strip()
            if not s or s.startswith(("#", ";", "//")):
                continue
            m = SECRET_KEYS.match(s)
            hit = None
            if m:
                v = _clean_value(m.group("value"))
                why = secret_value(m.group("name"), m.group("value"), v, code)
                if why:
                    hit = (m.group("name"), v, why, m.start("value"))
            if hit is None:
                a = AWS_KEY.search(s)
                if a:
                    hit = ("aws_access_key_id", a.group(0), "AWS access key id", a.start())
            if hit:
                name, v, why, at = hit
                names.append(name)
                kinds.append(why)
                mv = mask_text(v)
                # mask the value only where it stands: the key's name stays whole
                shown = s[:at] + s[at:].replace(v, mask(v))
                evs.append(run.ev(e, n, shown, Text(
                    en=f"{name} = {mv.en} ({why})", zh=f"{name} 的值为 {mv.zh}（{_WHY_ZH.get(why, why)}）")))
        if evs:
            yield Hit(key=("file", e.path), evidence=evs, params={"path": e.path, "names": names},
                      data={"names": names, "count": len(names), "kinds": kinds})


_WHY_ZH = {"literal credential": "直接写入的凭据字面值", "high-entropy value": "高熵随机值",
           "AWS access key id": "AWS 访问密钥 ID", "GitHub token": "GitHub 令牌", "Slack token": "Slack 令牌",
           "Google API key": "Google API 密钥", "JSON web token": "JSON Web Token（JWT）", "hex key": "十六进制密钥"}

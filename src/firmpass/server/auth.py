"""Accounts, sessions, CSRF and API tokens.

Passwords: argon2id (argon2-cffi's defaults).  A session is a random 32-byte token in an HttpOnly,
SameSite=Lax cookie (Secure unless the operator serves plain HTTP on purpose); only its sha256 is
stored, with the session's CSRF token, which every form posts back.  API tokens are random too, shown
once and stored as sha256.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from firmpass.server.db import ApiToken, Member, Org, User, WebSession, now

SESSION_COOKIE = "fp_session"
SESSION_DAYS = 7
_ph = PasswordHasher()


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(pw: str) -> str:
    return _ph.hash(pw)


def verify_password(pw_hash: str, pw: str) -> bool:
    try:
        return _ph.verify(pw_hash, pw)
    except (VerificationError, InvalidHashError):
        return False


def add_user(s, email: str, password: str, org: str, role: str, name: str = "") -> User:
    """Create (or find) the user and the organisation and give the user `role` in it."""
    from firmpass.server.db import ROLES

    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    u = s.query(User).filter_by(email=email.lower()).one_or_none()
    if u is None:
        u = User(email=email.lower(), name=name or email, pw_hash=hash_password(password))
        s.add(u)
    o = s.query(Org).filter_by(name=org).one_or_none()
    if o is None:
        o = Org(name=org)
        s.add(o)
    s.flush()
    set_member(s, u, o.id, role)
    s.flush()
    return u


def set_member(s, u: User, org_id: int, role: str) -> None:
    """Give user `u` the role `role` in organisation `org_id` (a new membership or a changed role)."""
    m = s.get(Member, (u.id, org_id))
    if m is None:
        s.add(Member(user_id=u.id, org_id=org_id, role=role))
    else:
        m.role = role


def new_session(s, user: User) -> tuple[str, WebSession]:
    token = secrets.token_urlsafe(32)
    exp = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=SESSION_DAYS)).isoformat(timespec="seconds")
    ws = WebSession(id=sha(token), user_id=user.id, csrf=secrets.token_urlsafe(32), expires=exp)
    s.add(ws)
    return token, ws


def session_for(s, token: str | None) -> WebSession | None:
    if not token:
        return None
    ws = s.get(WebSession, sha(token))
    if ws is None or ws.expires < now():
        return None
    return ws


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def new_api_token(s, user: User, name: str) -> str:
    token = "fpt_" + secrets.token_urlsafe(32)
    s.add(ApiToken(user_id=user.id, name=name[:200], token_hash=sha(token)))
    return token


def user_for_token(s, header: str | None) -> User | None:
    if not header or not header.lower().startswith("bearer "):
        return None
    row = s.query(ApiToken).filter_by(token_hash=sha(header[7:].strip())).one_or_none()
    if row is None:
        return None
    row.last_used = now()
    return s.get(User, row.user_id)

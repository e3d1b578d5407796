"""Where the vulnerability store is: a file or a database URL from --db, $FIRMPASS_DB or the user's data
directory; how it is shown in messages (passwords hidden); and one-line errors for a bad store."""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def is_db_url(spec: object) -> bool:
    """A store given as an SQLAlchemy URL (postgresql+psycopg://user@host/db) rather than a file."""
    return isinstance(spec, str) and bool(_URL_RE.match(spec))


def default_db_path() -> Path | str:
    env = os.environ.get("FIRMPASS_DB")
    if env:
        return env if is_db_url(env) else Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "firmpass" / "vulns.db"


def resolve_db_path(explicit: Path | str | None = None) -> Path | str:
    """The store to use: `explicit` (a file path or a database URL), else $FIRMPASS_DB, else the
    user's data directory.  URLs come back as strings, files as Paths."""
    if explicit and is_db_url(explicit):
        return str(explicit)
    return Path(explicit).expanduser() if explicit else default_db_path()


SQLITE_MAGIC = b"SQLite format 3\x00"


def display_db(spec: Path | str) -> str:
    """A store for messages and findings.json: the file path, or the URL with any password hidden."""
    if is_db_url(spec):
        from sqlalchemy.engine import make_url

        try:
            return make_url(str(spec)).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - an unparsable URL: show its scheme only
            return str(spec).split("://", 1)[0] + "://..."
    return str(spec)


@contextlib.contextmanager
def db_errors(spec: Path | str):
    """Any failure of the database itself (unreachable server, damaged or foreign file, locked file)
    inside the block becomes UnusableInput('err.bad_db') with one line; our own errors pass through."""
    from firmpass.errors import FirmpassError, UnusableInput
    from firmpass.i18n import exc_detail

    try:
        yield
    except FirmpassError:
        raise
    except Exception as e:  # noqa: BLE001 - SQLAlchemy / driver errors of every kind
        raise UnusableInput("err.bad_db", path=display_db(spec), detail=exc_detail(e)) from None


def check_db_file(path: Path | str) -> None:
    """A store path given by the user: absent (an empty store) or an SQLite file, else
    UnusableInput('err.bad_db') with one line.  Read 16 bytes, never the whole file."""
    from firmpass.errors import UnusableInput
    from firmpass.model import Text

    if is_db_url(path):
        return  # a server store: connection problems surface when it is opened
    p = Path(path).expanduser()
    if not p.exists():
        return
    if not p.is_file():
        raise UnusableInput("err.not_a_file", path=str(p))
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise UnusableInput("err.bad_db", path=str(p), detail=e.strerror or str(e)) from None
    if head and head != SQLITE_MAGIC:
        raise UnusableInput("err.bad_db", path=str(p), detail=Text(en="not an SQLite database", zh="不是 SQLite 数据库文件"))

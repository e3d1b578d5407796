"""Errors a user can act on.  Each carries a bilingual message and an exit code."""
from __future__ import annotations

from firmpass.i18n import msg
from firmpass.model import Text


class FirmpassError(Exception):
    exit_code = 2

    def __init__(self, key: str, **kw):
        self.text: Text = msg(key, **kw)
        super().__init__(self.text.en)


class UnusableInput(FirmpassError):
    """The image (or profile, or scan dir) cannot be used: exit 2."""


def require_file(path) -> None:
    """An input named by the user exists and is a regular file, else UnusableInput (one line, exit 2)."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise UnusableInput("err.no_such_file", path=str(p))
    if not p.is_file():
        raise UnusableInput("err.not_a_file", path=str(p))


class LimitExceeded(FirmpassError):
    """A safety limit (size, ratio, depth, count, time) was hit."""


class DeadlineReached(BaseException):
    """The scan's one deadline (--timeout) passed while a stage that computes (identify, vulns, checks,
    assess) was running; raised by ScanContext.checkpoint().  A BaseException on purpose, like
    asyncio's CancelledError: the many `except Exception` blocks that keep one bad file or one failing
    check from losing the stage must not swallow it.  The pipeline marks the stage 'stopped', warns,
    and writes what was computed; `partial` carries a stage's results so far when it has any."""

    def __init__(self, stage: str, partial: object = None):
        super().__init__(stage)
        self.stage = stage
        self.partial = partial


class InternalError(FirmpassError):
    """A bug or an input no handler anticipated, in a stage the scan cannot go on without.  Exit 2
    like unusable input (the contract has 0 and 2 only); the results so far are already on disk."""

    def __init__(self, stage: str, exc: BaseException, out: object = "-"):
        from firmpass.i18n import exc_detail

        super().__init__("err.internal", stage=stage, detail=exc_detail(exc), out=str(out))

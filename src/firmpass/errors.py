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


class LimitExceeded(FirmpassError):
    """A safety limit (size, ratio, depth, count, time) was hit."""


class InternalError(FirmpassError):
    """A bug or an input no handler anticipated, in a stage the scan cannot go on without.  Exit 2
    like unusable input (the contract has 0 and 2 only); the results so far are already on disk."""

    def __init__(self, stage: str, exc: BaseException, out: object = "-"):
        from firmpass.i18n import exc_detail

        super().__init__("err.internal", stage=stage, detail=exc_detail(exc), out=str(out))

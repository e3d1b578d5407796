"""Defer rfc3987_syntax's import until an IRI is actually checked.

jsonschema registers its "iri" / "iri-reference" format checkers by importing rfc3987_syntax when
that package is installed (cyclonedx-python-lib[json-validation] pulls it in), and rfc3987_syntax
builds a Lark parser for the RFC 3987 grammar at import: 1.3 CPU-seconds, paid by every process
that imports jsonschema, even when no IRI is ever validated (the evidence stage spent most of its
time there).  A stand-in module with the same `is_valid_syntax` loads the real one on first call,
so IRI checks behave exactly as before and cost nothing when unused.
"""
from __future__ import annotations

import importlib.util
import sys
import types


def install() -> None:
    name = "rfc3987_syntax"
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None:
        return  # not installed: jsonschema registers no IRI checker, as before
    real: list = []

    def is_valid_syntax(*args, **kwargs):
        if not real:
            stub = sys.modules.pop(name, None)
            try:
                real.append(importlib.import_module(name).is_valid_syntax)
            finally:
                if stub is not None and name not in sys.modules:
                    sys.modules[name] = stub
        return real[0](*args, **kwargs)

    stub = types.ModuleType(name, "firmpass stand-in: loads rfc3987_syntax on first use")
    stub.is_valid_syntax = is_valid_syntax
    stub.__spec__ = None
    sys.modules[name] = stub

"""Shared presentation: what the report (HTML/PDF) and the evidence package both say and how they read
a saved scan.

- `i18n`: the report/evidence message catalogue (messages.yaml, en + zh) and `t`/`as_text`;
- `decision`: the first-page decision per market (legal facts in legal.yaml);
- `format`: value helpers (sizes, dotted profile lookups, tolerant list reads);
- `load`: findings.json / assessment.json / profile read back from a scan directory.

It lives outside `firmpass.report` so that `report` (which re-renders the evidence package) and
`evidence` (which words its documents like the report) both depend on it and not on each other: no
import cycle between packages (tests/core/test_import_cycles.py).
"""

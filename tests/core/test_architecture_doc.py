"""docs/architecture.md's stage contract is generated from the code and must match it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_doc_is_generated_from_the_current_models():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_architecture.py"), "--check"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_the_generated_part_names_every_stage_and_model_field():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_architecture
    finally:
        sys.path.remove(str(ROOT / "tools"))
    from firmpass.model import FileEntry, Finding
    from firmpass.pipeline import STAGES

    text = gen_architecture.render()
    for i, stage in enumerate(STAGES, 1):
        assert f"| {i} | {stage} |" in text
    for cls in (FileEntry, Finding):
        for name in cls.model_fields:
            assert f"| `{name}` |" in text, (cls.__name__, name)

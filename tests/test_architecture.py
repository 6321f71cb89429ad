"""The structure of issue 15 holds: layers point down, services know no web and no outside world.

The contracts are in .importlinter; `lint-imports` names the import that broke one.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache", "--config", str(ROOT / ".importlinter")],
                            cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _todo_no_file_over_400_lines_in_the_services():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "app" / "services").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}

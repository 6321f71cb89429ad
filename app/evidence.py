"""Where evidence files (task photos, drawn signatures) are kept: never in the database."""
from __future__ import annotations

import os

from flask import current_app


def evidence_dir() -> str:
    """EVIDENCE_DIR, else instance/evidence."""
    return current_app.config.get("EVIDENCE_DIR") or os.path.join(current_app.instance_path,
                                                                  "evidence")

"""Where the app keeps files on disk: evidence photos and drawn signatures (never the DB)."""
from __future__ import annotations

import os

from flask import current_app


def evidence_dir() -> str:
    """Where evidence photos are kept: EVIDENCE_DIR, else instance/evidence."""
    return current_app.config.get("EVIDENCE_DIR") or os.path.join(current_app.instance_path,
                                                                  "evidence")

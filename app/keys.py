"""Secrets for development: generated once into instance/, never committed, never in production."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from app.crypto import generate_key

DEV_SECRETS_FILE = "dev-secrets.json"
_KEYS = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY")


def ensure_secrets(config: dict, instance_path: str) -> None:
    """Fill missing secrets from instance/dev-secrets.json in development; refuse in production."""
    missing = [k for k in _KEYS if not config.get(k)]
    if not missing:
        return
    if config.get("APP_ENV") == "production":
        raise RuntimeError(f"missing required settings in production: {', '.join(missing)}")
    path = Path(instance_path) / DEV_SECRETS_FILE
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        stored = {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "FIELD_ENCRYPTION_KEYS": f"dev1:{generate_key()}",
            "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "dev1",
            "BLIND_INDEX_KEY": generate_key(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
    for key in missing:
        config[key] = stored[key]
    if "FIELD_ENCRYPTION_KEYS" in missing:
        config["FIELD_ENCRYPTION_ACTIVE_KEY_ID"] = stored.get("FIELD_ENCRYPTION_ACTIVE_KEY_ID")

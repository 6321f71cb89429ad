"""Officer API test helpers: sign in, and call with a bearer token and an Idempotency-Key."""
from __future__ import annotations

import itertools

from tests.console.helpers import PASSWORD

_keys = itertools.count(1)


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post("/api/v1/officer/sign-in",
                       json={"username": username, "password": password})


def token_of(client, username: str) -> str:
    resp = sign_in(client, username)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]


def auth(token: str, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def new_key() -> str:
    return f"k-{next(_keys)}"

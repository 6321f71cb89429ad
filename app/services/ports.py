"""What services ask of the outside world: small interfaces they own, wired by create_app().

- `jobs` (enqueue a job after commit, by name) is `app.outbox.jobs`, the outbox.
- `pushes` (send a WeChat push, read today's template quota): `wechat.push.WeChatPushes`.
- `settings` (the configuration values services read): the app's config, wired by the factory.
- The real-name check (实名核验) is `app.extensions["anju_real_name_check"]`, asked by the H5
  blueprint (`wechat.sandbox.realname` in development, `wechat.realname` otherwise).

A port is wired once per process; its implementation is stateless and reads the current app's
configuration itself, so every app a process builds (tests build many) shares it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class PushResult:
    status: str  # sent / deferred / unreachable / failed / duplicate / no_recipient
    detail: str | None = None


class Pushes(Protocol):
    def send_push(self, wechat_user_id: int | None, *, title: str, lines: list[tuple[str, str]],
                  link: str | None, dedupe_key: str, not_before: datetime | None = None,
                  now: datetime | None = None) -> PushResult: ...

    def quota_used(self, now: datetime) -> int: ...


class _Port:
    """Forwards to the implementation the factory wired; says so plainly when none is."""

    def __init__(self, name: str):
        self._name = name
        self._impl: Any = None

    def wire(self, impl: Any) -> None:
        self._impl = impl

    @property
    def wired(self) -> bool:
        return self._impl is not None

    def __getattr__(self, attr: str):
        if self._impl is None:
            raise RuntimeError(f"the {self._name} port is not wired: create_app() wires it")
        return getattr(self._impl, attr)


pushes: Pushes = _Port("pushes")  # type: ignore[assignment]
_settings: Any = None  # a callable answering the current configuration mapping


def wire_settings(source) -> None:
    """Where services read configuration: `source()` answers a mapping (the app's config)."""
    global _settings
    _settings = source


def config() -> Mapping[str, Any] | None:
    """The current configuration, or None outside an app (services then use their defaults)."""
    return _settings() if _settings is not None else None

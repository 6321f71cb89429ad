"""WeChatUser rows as WeChat reveals them: upsert on every message, follow and unfollow."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from flask import g
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import WeChatUser, utcnow
from app.redis_conn import get_redis

# last_seen_at is for "is this person still around", not an access log: one write a minute at most
# keeps a chatty user from turning every message into an UPDATE.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
SEEN_KEY = "anju:wechat:seen:{openid}"
SEEN_JITTER_SECONDS = 30
_PENDING_SEEN = "anju_wechat_seen"
_KNOWN_USERS = "anju_wechat_users"
_MARKERS_READ = "anju_wechat_seen_read"


def by_openid(openid: str) -> WeChatUser | None:
    """The WeChat user with this openid (official account or mini-program), or None."""
    return db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)).scalar()


def upsert(openid: str, *, source: str = "official_account", unionid: str | None = None,
           now: datetime | None = None) -> WeChatUser:
    """The user with this openid, created if new (committed at once), last_seen_at refreshed.

    Apart from that insert it only flushes: the caller commits.
    """
    now = now or utcnow()
    # Within one request a user met once is not looked up again: after the insert below, a plain
    # read in the same MariaDB transaction would still use the older snapshot and miss the row.
    known = db.session.info.setdefault(_KNOWN_USERS, {})
    user = known.get(openid)
    if user is None or user not in db.session:
        user = by_openid(openid)
    if user is None:
        _insert_committed(openid, source, unionid, now)
        # A locking read returns the committed row even when this transaction's REPEATABLE READ
        # snapshot (MariaDB) predates it; one waiter at a time, so no lock-upgrade deadlock.
        user = db.session.execute(select(WeChatUser).where(WeChatUser.openid == openid)
                                  .with_for_update()).scalar_one()
    if unionid and not user.unionid:
        user.unionid = unionid
    if user.last_seen_at is None or now - user.last_seen_at >= LAST_SEEN_RESOLUTION:
        user.last_seen_at = now
    db.session.flush()
    known[openid] = user
    return user


def seen_key(openid: str) -> str:
    """The Redis marker saying this user's row was upserted within the last minute."""
    return SEEN_KEY.format(openid=openid)


def note_seen_marker(openid: str, present: bool) -> None:
    """What the callback already read of the user's seen-marker (in its claim round trip), so
    that seen() does not ask Redis again within this request. Kept on `g`, not the database
    session, so that a message needing no SQL never even creates a session."""
    g.setdefault(_MARKERS_READ, {})[openid] = present


def seen(openid: str, now: datetime | None = None) -> None:
    """Note that the user is around: the row is upserted at most once a minute.

    A message that needs nothing from the database (most text commands) then costs the callback
    no query at all. The caller commits, then sets seen_markers_to_set().
    """
    present = g.get(_MARKERS_READ, {}).pop(openid, None)
    if present is None:
        present = bool(get_redis().exists(seen_key(openid)))
    if present:
        return
    upsert(openid, now=now)
    # The marker is set only once the row is committed (seen_markers_to_set), so that a concurrent
    # message never skips the upsert while the row is still invisible to it.
    db.session.info.setdefault(_PENDING_SEEN, set()).add(openid)


def seen_markers_to_set() -> list[tuple[str, int]]:
    """After commit: the seen-markers (key, TTL) for the users upserted in that transaction.

    The caller sets them (in the same Redis round trip as its own writes); each lasts a minute.
    """
    g.pop(_MARKERS_READ, None)
    # No session yet means no upsert (and creating one just to look would cost more than that).
    pending = (db.session.info.pop(_PENDING_SEEN, None) if db.session.registry.has() else None) or ()
    # Jittered, so that users who all appeared at once do not all upsert again at once.
    base = int(LAST_SEEN_RESOLUTION.total_seconds())
    return [(seen_key(openid), base + random.randint(0, SEEN_JITTER_SECONDS)) for openid in pending]


def forget_seen() -> None:
    """After rollback: nothing was upserted, so nobody is marked as seen."""
    db.session.info.pop(_PENDING_SEEN, None)
    g.pop(_MARKERS_READ, None)


def _insert_committed(openid: str, source: str, unionid: str | None, now: datetime) -> None:
    # Its own short transaction: the first messages of a new user often arrive together, and
    # a duplicate-key wait inside the request's transaction would keep a shared lock that the
    # later update has to upgrade — two such waiters deadlock. Here the loser simply finds the
    # winner's row. A row created for an openid WeChat sent us is harmless even if the request
    # then fails.
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(WeChatUser).values(openid=openid, source=source, unionid=unionid,
                                                   last_seen_at=now))
    except IntegrityError:
        pass


def mark_subscribed(user: WeChatUser, now: datetime | None = None) -> None:
    """The user follows the account (again): reachable by template messages."""
    now = now or utcnow()
    if not user.subscribed:
        user.subscribed, user.subscribed_at = True, now
    user.unreachable_at = None
    db.session.flush()


def mark_unsubscribed(user: WeChatUser, now: datetime | None = None) -> None:
    """The user unfollowed: template messages would fail with 43004, so they are unreachable."""
    now = now or utcnow()
    user.subscribed, user.unsubscribed_at = False, now
    user.unreachable_at = user.unreachable_at or now
    db.session.flush()

"""Everything the sandbox remembers, in Redis: fake users, issued codes and tokens, received calls.

Kept in Redis (not in the app's tables) so every process — web, worker, test — sees the same fake
WeChat. A fake user has an official-account `openid` and, as in real WeChat, a different
`miniapp_openid` for the mini-program, both tied together by one `unionid`.
"""
from __future__ import annotations

import json
import secrets
import time

from app.redis_conn import get_redis

PREFIX = "wxsandbox:"
ACCESS_TOKEN_TTL = 7200
CODE_TTL = 300
REFRESH_TOKEN_TTL = 30 * 24 * 3600
# WeChat keeps the previous access_token valid for 5 minutes after a new one is issued.
PREVIOUS_TOKEN_GRACE = 300
KEEP_CALLS = 2000
KEEP_MESSAGES = 1000
KEEP_CHAT = 200

_USERS = PREFIX + "users"
_MINIAPP_OPENIDS = PREFIX + "miniapp_openids"
_TOKEN_CALLS = PREFIX + "token_calls"
_CALLS = PREFIX + "calls"
_SENT = PREFIX + "sent"
_MSGID = PREFIX + "msgid"
_MENU = PREFIX + "menu"


def _key(*parts: str) -> str:
    return PREFIX + ":".join(parts)


def _loads(raw) -> dict | None:
    return None if raw is None else json.loads(raw)


def new_openid() -> str:
    """An openid shaped like WeChat's: 'o' and 27 URL-safe characters."""
    return "o" + secrets.token_urlsafe(21)[:27]


# --- fake users ---------------------------------------------------------------------------------

def create_user(nickname: str, subscribed: bool = False) -> dict:
    """Create a fake WeChat user (not following the account unless subscribed=True)."""
    user = {
        "openid": new_openid(),
        "miniapp_openid": new_openid(),
        "unionid": "u" + secrets.token_urlsafe(21)[:27],
        "nickname": nickname,
        "subscribed": bool(subscribed),
        "accepts_subscribe_messages": True,
        "created_at": time.time(),
    }
    redis = get_redis()
    pipe = redis.pipeline()
    pipe.hset(_USERS, user["openid"], json.dumps(user, ensure_ascii=False))
    pipe.hset(_MINIAPP_OPENIDS, user["miniapp_openid"], user["openid"])
    pipe.execute()
    return user


def adopt_user(openid: str) -> dict:
    """Take an openid the sandbox never issued (demo data, a test's WeChatUser row) as a follower.

    Real WeChat would answer 40003 for it; the sandbox instead lets pushes to the app's own users
    arrive, and shows them in the simulator. The same id serves as official-account and
    mini-program openid.
    """
    user = {
        "openid": openid, "miniapp_openid": openid, "unionid": "u" + secrets.token_urlsafe(21)[:27],
        "nickname": f"应用内用户 {openid[:12]}", "subscribed": True, "accepts_subscribe_messages": True,
        "adopted": True, "created_at": time.time(),
    }
    # HSETNX: two concurrent first pushes to the same openid adopt it once.
    if not get_redis().hsetnx(_USERS, openid, json.dumps(user, ensure_ascii=False)):
        return get_user(openid)
    return user


def list_users() -> list[dict]:
    """Every fake user, newest first."""
    users = [json.loads(raw) for raw in get_redis().hvals(_USERS)]
    return sorted(users, key=lambda u: u["created_at"], reverse=True)


def get_user(openid: str) -> dict | None:
    """The fake user with this official-account openid (or mini-program openid), or None."""
    if not openid:
        return None
    redis = get_redis()
    user = _loads(redis.hget(_USERS, openid))
    if user is None:
        owner = redis.hget(_MINIAPP_OPENIDS, openid)
        if owner is not None:
            user = _loads(redis.hget(_USERS, owner))
    return user


def _update_user(openid: str, **fields) -> dict | None:
    user = get_user(openid)
    if user is None:
        return None
    user.update(fields)
    get_redis().hset(_USERS, user["openid"], json.dumps(user, ensure_ascii=False))
    return user


def set_subscribed(openid: str, subscribed: bool, qr_scene: str | None = None) -> dict | None:
    """Mark a fake user as following (or not) the official account; qr_scene when a QR code made them follow."""
    if not subscribed:
        return _update_user(openid, subscribed=False)
    return _update_user(openid, subscribed=True, subscribed_at=time.time(),
                        subscribe_scene="ADD_SCENE_QR_CODE" if qr_scene else "ADD_SCENE_OTHERS",
                        qr_scene_str=qr_scene or "")


def set_accepts_subscribe_messages(openid: str, accepts: bool) -> dict | None:
    """Whether the user allowed the mini-program's subscribe messages (False → 43101 on send)."""
    return _update_user(openid, accepts_subscribe_messages=bool(accepts))


# --- access tokens (cgi-bin/token, stable_token) --------------------------------------------------

def count_token_call() -> int:
    """Count one call to cgi-bin/token or cgi-bin/stable_token; returns today's count (for the daily limit)."""
    day_key = _key("token_calls_on", time.strftime("%Y%m%d"))
    pipe = get_redis().pipeline()
    pipe.incr(_TOKEN_CALLS)
    pipe.incr(day_key)
    pipe.expire(day_key, 2 * 24 * 3600)
    return int(pipe.execute()[1])


def token_calls() -> int:
    """How many access-token calls the fake API has received."""
    return int(get_redis().get(_TOKEN_CALLS) or 0)


def issue_access_token(appid: str, stable: bool = False, force_refresh: bool = False) -> tuple[str, int]:
    """Issue an access token for appid; returns (token, expires_in).

    cgi-bin/token always issues a new token and leaves the previous one valid for 5 minutes;
    stable_token returns the current stable token unless it is forced to refresh.
    """
    redis = get_redis()
    latest_key = _key("latest_token", "stable" if stable else "plain", appid)
    previous = redis.get(latest_key)
    if stable and previous is not None and not force_refresh:
        ttl = redis.ttl(_key("access_token", previous.decode()))
        if ttl and ttl > 0:
            return previous.decode(), int(ttl)
    token = secrets.token_urlsafe(96)[:128]
    pipe = redis.pipeline()
    if previous is not None:
        old_key = _key("access_token", previous.decode())
        ttl = redis.ttl(old_key)
        if ttl and ttl > PREVIOUS_TOKEN_GRACE:
            pipe.expire(old_key, PREVIOUS_TOKEN_GRACE)
    pipe.set(_key("access_token", token), appid, ex=ACCESS_TOKEN_TTL)
    pipe.set(latest_key, token, ex=ACCESS_TOKEN_TTL)
    pipe.execute()
    return token, ACCESS_TOKEN_TTL


def token_appid(token: str | None) -> str | None:
    """The appid an access token was issued to, or None when unknown or expired."""
    if not token:
        return None
    raw = get_redis().get(_key("access_token", token))
    return raw.decode() if raw is not None else None


def expire_access_tokens() -> None:
    """Expire every issued access token now (to exercise the client's 40001 retry)."""
    redis = get_redis()
    for key in list(redis.scan_iter(match=_key("access_token", "*"))):
        redis.delete(key)


# --- OAuth codes and web tokens, mini-program js codes --------------------------------------------

def _consume(key: str) -> dict | None:
    # GET and DEL in one MULTI: of two concurrent exchanges of the same code exactly one sees it.
    pipe = get_redis().pipeline(transaction=True)
    pipe.get(key)
    pipe.delete(key)
    raw, _ = pipe.execute()
    return _loads(raw)


def issue_oauth_code(openid: str, appid: str, scope: str = "snsapi_base") -> str:
    """A single-use OAuth code for this user, valid 300 s (what the authorize page hands out)."""
    code = secrets.token_urlsafe(24)
    get_redis().set(_key("oauth_code", code),
                    json.dumps({"openid": openid, "appid": appid, "scope": scope}), ex=CODE_TTL)
    return code


def consume_oauth_code(code: str) -> dict | None:
    """Use up an OAuth code: its {openid, appid, scope}, or None if unknown, expired or used."""
    return _consume(_key("oauth_code", code)) if code else None


def issue_web_token(openid: str, appid: str, scope: str) -> dict:
    """An OAuth (sns) access token and refresh token for a user."""
    grant = {"openid": openid, "appid": appid, "scope": scope}
    access_token = secrets.token_urlsafe(64)
    refresh_token = secrets.token_urlsafe(64)
    pipe = get_redis().pipeline()
    pipe.set(_key("web_token", access_token), json.dumps(grant), ex=ACCESS_TOKEN_TTL)
    pipe.set(_key("refresh_token", refresh_token), json.dumps(grant), ex=REFRESH_TOKEN_TTL)
    pipe.execute()
    return {"access_token": access_token, "expires_in": ACCESS_TOKEN_TTL,
            "refresh_token": refresh_token, **grant}


def web_token_grant(access_token: str | None) -> dict | None:
    """The grant behind an OAuth access token, or None."""
    return _loads(get_redis().get(_key("web_token", access_token))) if access_token else None


def refresh_token_grant(refresh_token: str | None) -> dict | None:
    """The grant behind an OAuth refresh token, or None."""
    return _loads(get_redis().get(_key("refresh_token", refresh_token))) if refresh_token else None


def issue_js_code(openid: str) -> str:
    """A single-use mini-program login code (what wx.login() would give) for a fake user, 300 s."""
    user = get_user(openid)
    if user is None:
        raise KeyError(openid)
    code = secrets.token_urlsafe(24)
    get_redis().set(_key("js_code", code), json.dumps({"openid": user["openid"]}), ex=CODE_TTL)
    return code


def consume_js_code(code: str) -> dict | None:
    """Use up a mini-program login code: {openid} of the fake user, or None."""
    return _consume(_key("js_code", code)) if code else None


# --- what the fake API received ---------------------------------------------------------------------

def record_call(entry: dict) -> None:
    """Remember one call the fake API received (newest first, bounded)."""
    pipe = get_redis().pipeline()
    pipe.lpush(_CALLS, json.dumps(entry, ensure_ascii=False))
    pipe.ltrim(_CALLS, 0, KEEP_CALLS - 1)
    pipe.execute()


def calls(path: str | None = None) -> list[dict]:
    """Calls the fake API received, newest first, optionally only those to one API path."""
    entries = [json.loads(raw) for raw in get_redis().lrange(_CALLS, 0, -1)]
    return [e for e in entries if path is None or e["path"] == path]


def next_msgid() -> int:
    """A message id like the ones WeChat returns from template send."""
    return 2_000_000_000 + int(get_redis().incr(_MSGID))


def record_sent_message(message: dict) -> None:
    """Remember a template or subscribe message that was delivered to a fake user."""
    pipe = get_redis().pipeline()
    pipe.lpush(_SENT, json.dumps(message, ensure_ascii=False))
    pipe.ltrim(_SENT, 0, KEEP_MESSAGES - 1)
    pipe.incr(_key("sent_on", time.strftime("%Y%m%d"), message["kind"]))
    pipe.execute()


def sent_today(kind: str) -> int:
    """How many messages of this kind were delivered today (for the daily quota)."""
    return int(get_redis().get(_key("sent_on", time.strftime("%Y%m%d"), kind)) or 0)


def sent_messages(openid: str | None = None) -> list[dict]:
    """Delivered template and subscribe messages, newest first; for one user, under either openid."""
    messages = [json.loads(raw) for raw in get_redis().lrange(_SENT, 0, -1)]
    if openid is None:
        return messages
    user = get_user(openid)
    ids = {openid} if user is None else {user["openid"], user["miniapp_openid"]}
    return [m for m in messages if m.get("touser") in ids]


def save_menu(menu: dict) -> None:
    """Remember the menu published through menu/create."""
    get_redis().set(_MENU, json.dumps(menu, ensure_ascii=False))


def menu() -> dict | None:
    """The last published menu, or None."""
    return _loads(get_redis().get(_MENU))


def save_qrcode(ticket: str, data: dict, expire_seconds: int | None) -> None:
    """Remember a parametric QR code so a simulated scan can carry its ticket."""
    get_redis().set(_key("qrcode", ticket), json.dumps(data, ensure_ascii=False), ex=expire_seconds)


def qrcode(ticket: str) -> dict | None:
    """A QR code created through qrcode/create, or None."""
    return _loads(get_redis().get(_key("qrcode", ticket)))


# --- the simulator's conversations ----------------------------------------------------------------

def append_chat(openid: str, entry: dict) -> None:
    """Add one line (what the user sent, what the account replied, or an error) to a conversation."""
    key = _key("chat", openid)
    entry = {"at": time.time(), **entry}
    pipe = get_redis().pipeline()
    pipe.rpush(key, json.dumps(entry, ensure_ascii=False))
    pipe.ltrim(key, -KEEP_CHAT, -1)
    pipe.execute()


def chat(openid: str) -> list[dict]:
    """A fake user's conversation with the account, oldest first."""
    return [json.loads(raw) for raw in get_redis().lrange(_key("chat", openid), 0, -1)]


def reset() -> None:
    """Forget everything the sandbox holds."""
    redis = get_redis()
    keys = list(redis.scan_iter(match=PREFIX + "*", count=500))
    for start in range(0, len(keys), 500):
        redis.delete(*keys[start:start + 500])

"""Door-plate QR codes as WeChat parametric QR codes (permanent, string scene = the plate's token).

Scanning one opens the official account; the SCAN / subscribe event carries the scene and
wechat/router.py replies with the door-plate link, so a landlord who scans also follows.
"""
from __future__ import annotations

from app.redis_conn import get_redis
from wechat.client import get_client

_CACHE_KEY = "anju:plate_qr:{scene}"


def parametric_qr_url(scene: str) -> str:
    """The URL to encode for a permanent QR with this scene; created once, then cached in Redis."""
    redis = get_redis()
    key = _CACHE_KEY.format(scene=scene)
    cached = redis.get(key)
    if cached:
        return cached.decode() if isinstance(cached, bytes) else str(cached)
    answer = get_client().qrcode.create({
        "action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}})
    url = answer["url"]
    redis.set(key, url)  # a permanent QR never changes: no expiry
    return url

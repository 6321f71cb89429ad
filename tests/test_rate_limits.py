"""Rate limits wherever a person submits or guesses: H5 and API submissions share one budget per
WeChat user; receipt and confirmation codes count misses per client; console sign-in and WeChat
OAuth per client. Over the limit: 429 with a Chinese page, or the API's error body."""
from __future__ import annotations

import pytest

from app.app_tokens import issue_app_token
from app.models import WeChatUser
from tests.console.helpers import make_declaration
from tests.factories import make_address, make_jurisdiction

TOO_MANY = "操作过于频繁，请稍后再试"


@pytest.fixture()
def limited(app_config, db, monkeypatch):
    """An app with rate limits on, storing them where production would (Redis when set)."""
    from app import create_app
    from app.extensions import limiter

    for name in ("enabled", "_storage", "_limiter"):  # the Limiter is shared: restore it after
        monkeypatch.setattr(limiter, name, getattr(limiter, name))
    application = create_app({**app_config, "RATELIMIT_ENABLED": True})
    with application.app_context():
        from app.extensions import limiter as shared

        shared.storage.reset()
    return application


def wechat_user(limited, openid: str) -> int:
    from app.extensions import db

    with limited.app_context():
        user = WeChatUser(openid=openid, source="official_account")
        db.session.add(user)
        db.session.commit()
        return user.id


def h5_client(limited, openid: str, ip: str = "198.51.100.1"):
    c = limited.test_client()
    c.environ_base["REMOTE_ADDR"] = ip
    with c.session_transaction() as sess:
        sess["wx_openid"] = openid
    return c


def test_rate_limits_are_stored_in_redis_when_redis_is_configured(app_config, monkeypatch):
    from app import create_app
    from app.extensions import limiter

    for name in ("enabled", "_storage", "_limiter"):
        monkeypatch.setattr(limiter, name, getattr(limiter, name))
    url = "redis://127.0.0.1:6379/14"
    configured = create_app({**app_config, "REDIS_URL": url, "RATELIMIT_ENABLED": True})
    assert configured.config["RATELIMIT_STORAGE_URI"] == url
    assert type(limiter.storage).__name__ == "RedisStorage"


def test_h5_posts_spend_the_same_budget_as_the_api_per_wechat_user(limited):
    uid = wechat_user(limited, "o-busy-both")
    wechat_user(limited, "o-calm")
    api = limited.test_client()
    headers = {"Authorization": f"Bearer {issue_app_token(uid)}"}
    codes = [api.post("/api/v1/houses", json={}, headers=headers).status_code for _ in range(20)]
    assert 429 not in codes
    h5 = h5_client(limited, "o-busy-both")
    codes = [h5.post("/h5/a/no-such-plate/house", data={}).status_code for _ in range(10)]
    assert 429 not in codes
    refused = h5.post("/h5/a/no-such-plate/house", data={})
    assert refused.status_code == 429 and TOO_MANY in refused.get_data(as_text=True)
    assert "<html" in refused.get_data(as_text=True).lower()
    api_refused = api.post("/api/v1/houses", json={}, headers=headers)
    assert api_refused.status_code == 429
    assert api_refused.get_json() == {"code": 429, "message": TOO_MANY, "fields": {}}
    # Another WeChat user behind the same address is not affected.
    other = h5_client(limited, "o-calm")
    assert other.post("/h5/a/no-such-plate/house", data={}).status_code != 429


def test_h5_posts_alone_are_limited_to_the_submission_budget(limited):
    wechat_user(limited, "o-h5-only")
    h5 = h5_client(limited, "o-h5-only")
    codes = [h5.post("/h5/a/no-such-plate/house", data={}).status_code for _ in range(31)]
    assert 429 not in codes[:30] and codes[30] == 429


def test_receipt_code_guessing_is_limited_per_client_and_hits_do_not_count(limited):
    from app.extensions import db

    with limited.app_context():
        place = make_jurisdiction()
        address = make_address(place["community"])
        real = make_declaration(address, "verified")
        real.receipt_code = "ABCD2345"
        db.session.commit()
    honest = limited.test_client()
    honest.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    assert all(honest.get("/r/ABCD2345").status_code == 200 for _ in range(15))
    guesser = limited.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.40"
    codes = [guesser.get(f"/r/ZZZZ{n:04d}".replace("0", "A").replace("1", "B")).status_code
             for n in range(10)]
    assert codes == [404] * 10
    refused = guesser.get("/r/ABCD2345")  # even a right code now waits
    assert refused.status_code == 429 and TOO_MANY in refused.get_data(as_text=True)
    assert honest.get("/r/ABCD2345").status_code == 200  # another client is not affected


def test_confirmation_link_guessing_is_limited_per_client(limited):
    wechat_user(limited, "o-guesser")
    guesser = h5_client(limited, "o-guesser", ip="203.0.113.41")
    codes = [guesser.get(f"/h5/confirm/GUESS{n:03d}").status_code for n in range(10)]
    assert codes == [404] * 10
    refused = guesser.get("/h5/confirm/GUESS999")
    assert refused.status_code == 429 and TOO_MANY in refused.get_data(as_text=True)
    refused_post = guesser.post("/h5/confirm/GUESS999", data={"document_number": "x"})
    assert refused_post.status_code == 429


def test_wechat_oauth_entry_is_limited_per_client(limited):
    c = limited.test_client()
    c.environ_base["REMOTE_ADDR"] = "203.0.113.42"
    codes = [c.get("/h5/houses").status_code for _ in range(61)]
    assert codes[:60] == [302] * 60
    assert codes[60] == 429
    assert TOO_MANY in c.get("/h5/houses").get_data(as_text=True)


def test_wechat_oauth_callback_is_limited_per_client(limited):
    c = limited.test_client()
    c.environ_base["REMOTE_ADDR"] = "203.0.113.43"
    codes = [c.get("/wechat/oauth/callback?state=x&code=y").status_code for _ in range(31)]
    assert 429 not in codes[:30] and codes[30] == 429
    assert TOO_MANY in c.get("/wechat/oauth/callback?state=x&code=y").get_data(as_text=True)


def test_console_sign_in_is_limited_per_client_with_a_chinese_page(limited):
    c = limited.test_client()
    c.environ_base["REMOTE_ADDR"] = "203.0.113.44"
    codes = [c.post("/console/login", data={"username": "ghost", "password": "x"}).status_code
             for _ in range(21)]
    assert codes[-1] == 429 and 429 not in codes[:20]
    assert TOO_MANY in c.post("/console/login", data={"username": "ghost",
                                                      "password": "x"}).get_data(as_text=True)



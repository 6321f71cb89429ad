"""The app starts, answers /healthz and /readyz, and refuses unsafe production settings."""
import pytest

from app import create_app


def test_healthz_is_liveness_and_answers_without_the_database(client, app, monkeypatch):
    from app.extensions import db

    def no_database(*args, **kwargs):
        raise AssertionError("/healthz touched the database")

    monkeypatch.setattr(db.session, "execute", no_database)
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_reports_database_at_the_code_head_and_redis(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["database"]["revision"] == body["database"]["code_head"]
    assert body["redis"]["ok"]


def test_unknown_api_path_answers_json_error_in_chinese(client):
    resp = client.get("/api/v1/no-such-thing")
    assert resp.status_code == 404
    assert resp.get_json() == {"code": 404, "message": "页面不存在", "fields": {}}


def test_production_refuses_missing_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("ANJU_INSTANCE_PATH", str(tmp_path))
    for key in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "WECHAT_SANDBOX"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_the_sandbox(monkeypatch, tmp_path, app_config):
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(RuntimeError, match="SANDBOX"):
        create_app({**app_config, "APP_ENV": "production", "WECHAT_SANDBOX": True})


def _production(app_config, **over):
    """A complete production configuration, with the given settings changed."""
    config = {**app_config, "APP_ENV": "production", "WECHAT_SANDBOX": False,
              "REDIS_URL": app_config.get("REDIS_URL") or "redis://127.0.0.1:6379/14",
              "WECHAT_APP_ID": "wx0123456789abcdef", "WECHAT_APP_SECRET": "s" * 32,
              "WECHAT_TOKEN": "token123", "WECHAT_ENCODING_AES_KEY": "k" * 43,
              "WECHAT_API_BASE_URL": "https://api.weixin.qq.com/",
              "WECHAT_OAUTH_AUTHORIZE_URL": "https://open.weixin.qq.com/connect/oauth2/authorize",
              "PUBLIC_BASE_URL": "https://anju.example.gov.cn"}
    config.update(over)
    return config


@pytest.fixture()
def keep_limiter(monkeypatch):
    from app.extensions import limiter

    for name in ("enabled", "_storage", "_limiter"):  # the Limiter is shared: restore it after
        monkeypatch.setattr(limiter, name, getattr(limiter, name))


@pytest.mark.parametrize("setting", ["REDIS_URL", "WECHAT_APP_ID", "WECHAT_APP_SECRET",
                                     "WECHAT_TOKEN", "WECHAT_ENCODING_AES_KEY"])
def test_production_refuses_to_start_without_each_required_setting(app_config, keep_limiter,
                                                                   setting):
    with pytest.raises(RuntimeError) as refused:
        create_app(_production(app_config, **{setting: None}))
    lines = str(refused.value).splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{setting} is required in production"), lines


@pytest.mark.parametrize("url", ["http://anju.example.gov.cn", "https://localhost",
                                 "https://127.0.0.1:8443", "https://127.8.9.10", "https://[::1]/",
                                 "https://0.0.0.0", "", "anju.example.gov.cn"])
def test_production_refuses_a_public_base_url_that_is_not_public_https(app_config, keep_limiter,
                                                                      url):
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL") as refused:
        create_app(_production(app_config, PUBLIC_BASE_URL=url))
    assert len(str(refused.value).splitlines()) == 2


def test_complete_production_config_starts_and_sends_hsts(app_config, keep_limiter):
    production = create_app(_production(app_config))
    resp = production.test_client().get("/healthz")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers

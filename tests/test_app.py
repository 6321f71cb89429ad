"""The app starts, answers /healthz, and refuses unsafe production settings."""
import pytest

from app import create_app


def test_healthz_reports_database_redis_and_revision(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["database"]["revision"]
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

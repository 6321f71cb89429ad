"""Item 16: `make run` runs the periodic schedule in-process (embedded demo only), and the demo
data gives it something to do: reminders, escalations and move-out requests."""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import func, select

from app.models import Reminder
from app.services.demo.load import load_demo_data
from workers import embedded


def fake_app(**config):
    return SimpleNamespace(config={"APP_ENV": "development", **config}, extensions={})


def test_the_embedded_scheduler_starts_only_for_the_development_server(monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    assert embedded.should_start(fake_app())
    assert not embedded.should_start(fake_app(TESTING=True))
    assert not embedded.should_start(fake_app(APP_ENV="production"))
    assert not embedded.should_start(fake_app(REDIS_URL="redis://127.0.0.1:6379/0"))
    monkeypatch.setenv("ANJU_EMBEDDED_SCHEDULER", "0")
    assert not embedded.should_start(fake_app())
    monkeypatch.delenv("ANJU_EMBEDDED_SCHEDULER")
    monkeypatch.delenv("FLASK_RUN_FROM_CLI")  # gunicorn, flask shell, flask demo-data …
    assert not embedded.should_start(fake_app())


def test_the_test_app_never_starts_it(app, client):
    client.get("/")
    assert not app.extensions.get("anju_embedded_scheduler")


def test_a_tick_runs_the_periodic_jobs_over_the_demo_data(app, db, monkeypatch):
    if app.config.get("REDIS_URL"):
        # The embedded scheduler exists for the fake in-process Redis only.
        monkeypatch.setitem(app.config, "REDIS_URL", None)
        monkeypatch.delitem(app.extensions, "anju_redis", raising=False)  # restored afterwards
    load_demo_data(seed=7, scale=0.05)
    db.session.commit()
    move_out_requests = db.session.execute(select(func.count()).select_from(Reminder).where(
        Reminder.rule == "move_out_confirm")).scalar_one()
    assert move_out_requests >= 1  # the demo includes tenants who moved without a move-out
    ran = embedded.tick(app)
    assert {"relay_outbox", "sweep_reminders"} <= set(ran)
    # Once per period, however often it ticks (the 5-second relay may start a new period).
    assert set(embedded.tick(app)) <= {"relay_outbox"}
    db.session.rollback()  # end this session's snapshot: the jobs committed on their own
    rules = set(db.session.execute(select(Reminder.rule)).scalars())
    assert {"move_out_confirm", "occupancy_unconfirmed"} <= rules

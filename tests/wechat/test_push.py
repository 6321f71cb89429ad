"""Pushes: recorded before sending, never sent twice, 43004/43101 unreachable, daily quota respected."""
from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select, text

from app.extensions import db as _db
from app.models import PushMessage, WeChatUser
from wechat import push
from wechat.client import AnjuWeChatClient
from wechat.sandbox import store

LINES = [("申报事项", "租客入住"), ("办理结果", "已核验通过")]


@pytest.fixture(autouse=True)
def fresh_clients(app):
    app.extensions.pop("anju_wechat_clients", None)
    yield
    app.extensions.pop("anju_wechat_clients", None)


def follower(db, subscribed: bool = True) -> WeChatUser:
    """A sandbox user and the app's WeChatUser row for their official-account openid."""
    fake = store.create_user("房东", subscribed=subscribed)
    user = WeChatUser(openid=fake["openid"], source="official_account", subscribed=subscribed)
    db.session.add(user)
    db.session.commit()
    return user


def miniapp_user(db, accepts: bool = True) -> WeChatUser:
    fake = store.create_user("小程序租客")
    store.set_accepts_subscribe_messages(fake["openid"], accepts)
    user = WeChatUser(openid=fake["miniapp_openid"], source="miniapp")
    db.session.add(user)
    db.session.commit()
    return user


def notify(user_id, key="declaration:1:verified", link="/r/ABC123"):
    return push.send_push(user_id, title="申报办理进度", lines=LINES, link=link, dedupe_key=key)


def template_sends() -> list[dict]:
    return store.calls("cgi-bin/message/template/send")


def record(key="declaration:1:verified") -> PushMessage:
    _db.session.expire_all()
    return _db.session.execute(select(PushMessage).where(PushMessage.dedupe_key == key)).scalar_one()


def test_template_push_is_delivered_and_recorded_with_its_msgid(app, db):
    user = follower(db)
    result = notify(user.id)
    assert result.status == "sent"
    [message] = store.sent_messages(user.openid)
    assert message["kind"] == "template" and message["template_id"] == app.config["WECHAT_NOTICE_TEMPLATE_ID"]
    assert message["data"]["first"]["value"] == "申报办理进度"
    assert message["data"]["keyword1"]["value"] == "申报事项：租客入住"
    assert message["url"] == app.config["PUBLIC_BASE_URL"].rstrip("/") + "/r/ABC123"
    row = record()
    assert row.status == "sent" and row.msgid == message["msgid"] and row.sent_at is not None
    assert row.openid == user.openid and row.attempts == 1


def test_the_record_is_committed_before_the_request_leaves(app, db, monkeypatch):
    user = follower(db)
    seen = []
    real = AnjuWeChatClient._request

    def spy(self, method, url_or_endpoint, **kwargs):
        if "template/send" in url_or_endpoint:
            # What another process would see right now, through its own connection.
            with _db.engine.connect() as other:
                seen.append(other.execute(text(
                    "SELECT status FROM push_message WHERE dedupe_key = 'declaration:1:verified'")).scalar())
        return real(self, method, url_or_endpoint, **kwargs)

    monkeypatch.setattr(AnjuWeChatClient, "_request", spy)
    assert notify(user.id).status == "sent"
    assert seen == ["sending"]


def test_the_same_dedupe_key_never_sends_twice(db):
    user = follower(db)
    assert notify(user.id).status == "sent"
    assert notify(user.id).status == "duplicate"
    assert len(store.sent_messages(user.openid)) == 1 and len(template_sends()) == 1


def test_a_job_that_died_after_sending_is_retried_without_a_second_send(db, monkeypatch):
    user = follower(db)
    real_finish = push._finish

    def die(record, status, *args):
        if status == "sent":
            raise SystemExit("worker killed after WeChat accepted the message")
        return real_finish(record, status, *args)

    monkeypatch.setattr(push, "_finish", die)
    with pytest.raises(SystemExit):
        notify(user.id)
    db.session.rollback()
    monkeypatch.setattr(push, "_finish", real_finish)
    assert notify(user.id).status == "duplicate"  # the retried job
    assert len(store.sent_messages(user.openid)) == 1


def test_concurrent_jobs_with_the_same_key_send_once(app, db):
    user = follower(db)
    user_id, openid = user.id, user.openid
    results = []

    def job():
        with app.app_context():
            try:
                results.append(notify(user_id).status)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=job) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results).count("sent") == 1 and len(results) == 4
    assert len(store.sent_messages(openid)) == 1


def test_43004_marks_the_user_and_the_record_unreachable(db):
    user = follower(db, subscribed=False)  # the fake WeChat answers 43004 for non-followers
    result = notify(user.id)
    assert result.status == "unreachable"
    row = record()
    assert row.status == "unreachable" and row.errcode == 43004
    assert db.session.get(WeChatUser, user.id).unreachable_at is not None
    # Known unreachable: the next push spends no call (and no quota) on a certain 43004.
    assert notify(user.id, key="declaration:2:verified").status == "unreachable"
    assert len(template_sends()) == 1


def test_subscribe_message_to_a_miniapp_user(app, db):
    user = miniapp_user(db)
    assert notify(user.id).status == "sent"
    [message] = store.sent_messages(user.openid)
    assert message["kind"] == "subscribe"
    assert message["template_id"] == app.config["WECHAT_MINIAPP_NOTICE_TEMPLATE_ID"]
    assert all(len(item["value"]) <= 20 for item in message["data"].values())


def test_43101_marks_the_miniapp_user_unreachable(db):
    user = miniapp_user(db, accepts=False)
    assert notify(user.id).status == "unreachable"
    assert record().errcode == 43101
    assert db.session.get(WeChatUser, user.id).unreachable_at is not None


def test_the_daily_quota_defers_and_keeps_the_record_pending(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_DAILY_QUOTA", 2)
    user = follower(db)
    assert [notify(user.id, key=f"k{i}").status for i in range(3)] == ["sent", "sent", "deferred"]
    assert record("k2").status == "pending" and len(template_sends()) == 2
    # Tomorrow (here: a larger quota) the same job sends the deferred record, once.
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_DAILY_QUOTA", 3)
    assert notify(user.id, key="k2").status == "sent"
    assert notify(user.id, key="k2").status == "duplicate"
    assert len(store.sent_messages(user.openid)) == 3


def test_a_connect_timeout_hands_the_record_back_for_a_retry(app, db, monkeypatch):
    from wechat.client import get_client

    user = follower(db)
    client = get_client()
    client.access_token  # the token call itself goes through
    real = client._http.request
    failures = iter([requests.ConnectTimeout("no route")])

    def flaky(method, url, **kwargs):
        if "template/send" in url:
            error = next(failures, None)
            if error:
                raise error
        return real(method, url, **kwargs)

    monkeypatch.setattr(client._http, "request", flaky)
    with pytest.raises(requests.ConnectTimeout):
        notify(user.id)
    assert record().status == "pending"
    assert notify(user.id).status == "sent"
    assert len(store.sent_messages(user.openid)) == 1


def test_a_read_timeout_is_failed_and_never_resent(app, db, monkeypatch):
    from wechat.client import get_client

    user = follower(db)
    client = get_client()
    real = client._http.request

    def lost_answer(method, url, **kwargs):
        if "template/send" in url:
            real(method, url, **kwargs)  # WeChat got it ...
            raise requests.ReadTimeout("... but the answer was lost")
        return real(method, url, **kwargs)

    monkeypatch.setattr(client._http, "request", lost_answer)
    assert notify(user.id).status == "failed"
    assert record().status == "failed"
    assert notify(user.id).status == "failed"
    assert len(store.sent_messages(user.openid)) == 1


def test_no_wechat_account_means_no_recipient(db):
    assert notify(None).status == "no_recipient"
    assert notify(999999).status == "no_recipient"
    assert db.session.execute(select(PushMessage)).first() is None


def test_the_push_job_through_a_real_queue_sends_once(app, db, run_jobs):
    from wechat import jobs
    from workers.queues import enqueue_after_commit

    user = follower(db)
    for _ in range(2):  # the same job enqueued twice, e.g. a retry after a lost acknowledgement
        enqueue_after_commit(jobs.send_push, user.id, "申报办理进度", [list(line) for line in LINES],
                             "/r/ABC123", "declaration:9:approved")
    db.session.commit()
    run_jobs()
    assert len(store.sent_messages(user.openid)) == 1
    assert record("declaration:9:approved").status == "sent"


# -- a claim always ends; pending pushes are sent later ------------------------------------------

def _fail_template_send_with(monkeypatch, error: Exception) -> None:
    real = AnjuWeChatClient._request

    def failing(self, method, url_or_endpoint, **kwargs):
        if "template/send" in url_or_endpoint:
            raise error
        return real(self, method, url_or_endpoint, **kwargs)

    monkeypatch.setattr(AnjuWeChatClient, "_request", failing)


def test_a_redis_error_after_the_claim_hands_the_push_back_and_it_is_sent_later(
        app, db, monkeypatch):
    import redis

    from wechat.jobs import retry_pushes

    user = follower(db)
    with monkeypatch.context() as m:  # the token cache fails while the request is being built
        _fail_template_send_with(m, redis.ConnectionError("Error 111 connecting to redis"))
        with pytest.raises(redis.ConnectionError):
            notify(user.id)
    row = record()
    assert row.status == "pending" and row.attempts == 1 and "稍后重试" in row.errmsg
    assert template_sends() == []
    later = (push.utcnow() + push.RETRY_AFTER + push.timedelta(seconds=1)).isoformat()
    assert retry_pushes(later)["sent"] == 1
    assert retry_pushes(later) == {"reclaimed": 0}
    assert record().status == "sent" and len(store.sent_messages(user.openid)) == 1


def test_an_unexpected_error_after_the_claim_fails_the_push_and_never_resends(
        app, db, monkeypatch):
    from wechat.jobs import retry_pushes

    user = follower(db)
    with monkeypatch.context() as m:
        _fail_template_send_with(m, ValueError("bad answer"))
        with pytest.raises(ValueError):
            notify(user.id)
    row = record()
    assert row.status == "failed" and "未确认是否送达" in row.errmsg
    later = (push.utcnow() + push.timedelta(minutes=10)).isoformat()
    assert retry_pushes(later) == {"reclaimed": 0}
    assert notify(user.id).status == "failed" and template_sends() == []


def test_a_push_stuck_in_sending_is_reclaimed_after_the_send_timeout(app, db):
    from wechat.jobs import retry_pushes

    user = follower(db)
    now = push.utcnow()
    for key, claimed in (("stuck", now - push.SEND_TIMEOUT - push.timedelta(seconds=1)),
                         ("in-flight", now - push.timedelta(seconds=20))):
        db.session.add(PushMessage(channel="template", wechat_user_id=user.id,
                                   openid=user.openid, template_id="t", payload={},
                                   dedupe_key=key, status="sending", attempts=1,
                                   claimed_at=claimed))
    db.session.commit()
    assert retry_pushes(now.isoformat())["reclaimed"] == 1
    assert record("stuck").status == "failed" and "未确认是否送达" in record("stuck").errmsg
    assert record("in-flight").status == "sending"
    assert template_sends() == []  # at most once: a claim that may have gone out is not resent


def _quiet_hours(app, monkeypatch, runs_later: bool = True):
    from app.outbox import jobs

    monkeypatch.setitem(app.config, "REMINDER_QUIET_START", "22:00")
    monkeypatch.setitem(app.config, "REMINDER_QUIET_END", "08:00")
    # As with workers and the schedule running (REDIS_URL), in both passes.
    monkeypatch.setattr(jobs, "runs_later", lambda: runs_later)


def _shanghai(day_offset: int, hour: int, minute: int = 0):
    """A naive UTC instant at hour:minute Shanghai time, `day_offset` days after today."""
    from datetime import datetime, time as dtime

    from app.services.reminders import clock, rules

    s = rules.settings()
    today = clock.local(push.utcnow(), s).date()
    return clock.to_utc(datetime.combine(today + push.timedelta(days=day_offset),
                                             dtime(hour, minute)), s)


def _declaration_by(user):
    from app.models import Declaration

    decl = Declaration(kind="move_in", status="approved", submitter_role="landlord",
                       submitter_wechat_user_id=user.id, receipt_code="QUIET001", payload={})
    _db.session.add(decl)
    _db.session.commit()
    return decl


def test_a_decision_at_23_00_reaches_the_submitter_at_08_00_once(app, db, monkeypatch):
    from app.services.reminders.notifications import notify_declaration_status
    from wechat.jobs import retry_pushes

    _quiet_hours(app, monkeypatch)
    user = follower(db)
    decl = _declaration_by(user)
    night = _shanghai(2, 23)
    result = notify_declaration_status(decl.id, "approved", now=night)
    assert result.status == "deferred"
    key = f"declaration:{decl.id}:approved"
    assert record(key).status == "pending" and record(key).not_before == _shanghai(3, 8)
    assert template_sends() == []

    assert retry_pushes(_shanghai(3, 7, 59).isoformat()) == {"reclaimed": 0}  # still quiet
    assert template_sends() == []
    assert retry_pushes(_shanghai(3, 8).isoformat())["sent"] == 1
    assert retry_pushes(_shanghai(3, 8, 5).isoformat()) == {"reclaimed": 0}
    [message] = store.sent_messages(user.openid)
    assert "您的申报已审核通过" in message["data"]["keyword3"]["value"]
    assert record(key).status == "sent"


def test_a_quota_deferred_status_push_is_sent_the_next_morning_once(app, db, monkeypatch):
    from app.services.reminders.notifications import notify_declaration_status
    from wechat.jobs import retry_pushes

    _quiet_hours(app, monkeypatch)
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_DAILY_QUOTA", 1)
    user = follower(db)
    decl = _declaration_by(user)
    morning = _shanghai(2, 10)
    assert push.send_push(user.id, title="其他通知", lines=LINES, link=None, dedupe_key="first",
                          now=morning).status == "sent"  # that day's only template message
    assert notify_declaration_status(decl.id, "approved", now=morning).status == "deferred"
    key = f"declaration:{decl.id}:approved"
    assert record(key).status == "pending"
    assert retry_pushes(_shanghai(2, 15).isoformat())["deferred"] == 1  # quota still spent
    assert retry_pushes(_shanghai(3, 0, 30).isoformat()) == {"reclaimed": 0}  # new day, night
    # The sandbox counts WeChat's own quota by the real clock: give it room for "tomorrow".
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_DAILY_QUOTA", 2)
    assert retry_pushes(_shanghai(3, 8).isoformat())["sent"] == 1
    assert retry_pushes(_shanghai(3, 9).isoformat()) == {"reclaimed": 0}
    assert record(key).status == "sent" and len(template_sends()) == 2


def test_a_push_recorded_by_a_worker_that_died_before_sending_is_sent_by_the_retry_once(app, db):
    from wechat.jobs import retry_pushes

    user = follower(db)
    template_id, payload = push.notice_payload("template", "申报办理进度", LINES, "/r/ABC123")
    db.session.add(PushMessage(channel="template", wechat_user_id=user.id, openid=user.openid,
                               template_id=template_id, payload=payload, status="pending",
                               dedupe_key="declaration:7:verified", attempts=0,
                               created_at=push.utcnow() - push.timedelta(minutes=2)))
    db.session.commit()
    assert retry_pushes()["sent"] == 1
    assert retry_pushes() == {"reclaimed": 0}
    assert record("declaration:7:verified").status == "sent"
    assert len(store.sent_messages(user.openid)) == 1


def test_the_embedded_demo_sends_a_night_decision_at_once_having_no_one_to_send_it_later(
        app, db, monkeypatch):
    from app.services.reminders.notifications import notify_declaration_status

    _quiet_hours(app, monkeypatch, runs_later=False)
    user = follower(db)
    decl = _declaration_by(user)
    assert notify_declaration_status(decl.id, "approved", now=_shanghai(2, 23)).status == "sent"
    assert len(store.sent_messages(user.openid)) == 1

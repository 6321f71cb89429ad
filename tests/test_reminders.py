"""Reminders and escalation with a frozen clock: every rule, quiet hours, quota, results,
escalation, and exactly-once sends across processes (DESIGN §4 flow 7, §5)."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models import Alert, Declaration, House, Reminder, Residence, WeChatUser, utcnow
from app.services.reminders import notifications
from app.services.reminders import clock, delivery, escalations, quota, rules, sweep
from app.services.declarations.rentals import confirm_tenants_unchanged
from app.services.declarations.declare import add_months, residence_permit_date
from tests.factories import make_address, make_jurisdiction, make_person

# 12:00 in Shanghai (UTC+8): inside the sending day.
NOW = datetime(2026, 11, 27, 4, 0)
S = rules.Settings()


class Pushes:
    """Stands in for the WeChat channel (wechat.push.send_push): records each push and answers
    `result`; like wechat.push it counts sends on the shared daily quota and defers past it."""

    def __init__(self):
        self.sent: list[dict] = []
        self.result = notifications.PushResult("sent")
        self.quota: int | None = None

    def __call__(self, wechat_user_id, *, title, lines, link, dedupe_key):
        from app.redis_conn import get_redis

        if self.quota is not None and self.result.status == "sent":
            key = quota.quota_key(NOW)
            if get_redis().incr(key) > self.quota:
                get_redis().decr(key)
                return notifications.PushResult("deferred", "今日推送额度已用完")
        self.sent.append({"user": wechat_user_id, "title": title, "lines": lines, "link": link,
                          "key": dedupe_key})
        return self.result


@pytest.fixture()
def pushes(monkeypatch):
    recorder = Pushes()
    monkeypatch.setattr(notifications, "send_push", recorder)
    return recorder


@pytest.fixture()
def place(db):
    return make_jurisdiction()


_openids = iter(range(1, 10**6))


def make_user(person=None) -> WeChatUser:
    user = WeChatUser(openid=f"reminder-openid-{next(_openids)}", source="sandbox",
                      subscribed=True, person_id=person.id if person else None)
    from app.extensions import db

    db.session.add(user)
    db.session.flush()
    return user


def make_house(place, *, created: datetime, owner: WeChatUser | None = None, **fields) -> House:
    from app.extensions import db

    address = make_address(place["community"])
    values = dict(is_rental=True, rooms=2)
    values.update(fields)
    house = House(address_id=address.id, station_id=address.station_id,
                  police_area_id=address.police_area_id,
                  owner_wechat_user_id=owner.id if owner else None, created_at=created,
                  collected_at=created, **values)
    db.session.add(house)
    db.session.flush()
    return house


def live_in(house: House, number: str, start: date, name: str = "李租客") -> Residence:
    from app.extensions import db

    person = make_person(number, name=name)
    residence = Residence(person_id=person.id, house_id=house.id, start_date=start,
                          declared_by="landlord", status="active", active_slot=1,
                          created_at=datetime.combine(start, datetime.min.time()))
    db.session.add(residence)
    db.session.flush()
    return residence


def run_sweep(db, now: datetime, s: rules.Settings = S) -> sweep.SweepStats:
    stats = None
    for stats in sweep.sweep(now, s):
        db.session.commit()
    db.session.commit()
    return stats


def all_reminders(db) -> list[Reminder]:
    db.session.expire_all()
    return list(db.session.execute(select(Reminder).order_by(Reminder.id)).scalars())


def send_all(db, now: datetime, s: rules.Settings = S) -> dict[str, int]:
    """What a worker does for every due reminder: claim, commit, push, record, commit."""
    counts: dict[str, int] = {}
    for ids in sweep.due_reminder_ids(now, limit=10**6):
        for rid in ids:
            outcome = delivery.claim(rid, now, s)
            db.session.commit()
            if outcome == "claimed":
                outcome = delivery.deliver(rid, now, s)
                db.session.commit()
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# -- rules --------------------------------------------------------------------------------------

def test_rental_house_with_no_tenant_is_reminded_only_after_three_days(db, place):
    owner = make_user()
    fresh = make_house(place, created=NOW - timedelta(days=2), owner=owner)
    overdue = make_house(place, created=NOW - timedelta(days=3, hours=1), owner=owner)
    make_house(place, created=NOW - timedelta(days=10), owner=owner, is_vacant=True)
    make_house(place, created=NOW - timedelta(days=10), owner=owner, is_rental=False)
    db.session.commit()

    run_sweep(db, NOW)

    [reminder] = all_reminders(db)
    assert (reminder.rule, reminder.target_type, reminder.target_id) == \
        ("house_undeclared", "house", overdue.id)
    assert reminder.link == f"/h5/houses/{overdue.id}"
    assert reminder.recipient_wechat_user_id == owner.id and reminder.status == "pending"
    assert fresh.id != reminder.target_id


def test_sweeping_twice_adds_no_second_reminder_for_the_same_period(db, place):
    make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    assert run_sweep(db, NOW).created == 1
    assert run_sweep(db, NOW + timedelta(hours=1)).created == 0
    assert run_sweep(db, NOW + timedelta(days=1)).created == 0  # same weekly period
    assert len(all_reminders(db)) == 1
    assert run_sweep(db, NOW + timedelta(days=7)).created == 1  # next period: a new reminder


def test_tenants_not_confirmed_for_thirty_days_ask_the_landlord_to_confirm(db, place):
    owner = make_user()
    stale = make_house(place, created=NOW - timedelta(days=90), owner=owner,
                       last_confirmed_at=NOW - timedelta(days=31))
    live_in(stale, "11010519491231002X", date(2026, 6, 1))
    recent = make_house(place, created=NOW - timedelta(days=90), owner=owner,
                        last_confirmed_at=NOW - timedelta(days=29))
    live_in(recent, "110105194912310037", date(2026, 6, 1), name="王租客")
    db.session.commit()

    run_sweep(db, NOW)
    [reminder] = all_reminders(db)
    assert (reminder.rule, reminder.target_id) == ("occupancy_unconfirmed", stale.id)
    assert reminder.link == f"/h5/houses/{stale.id}/confirm"

    confirm_tenants_unchanged(db.session.get(House, stale.id), now=NOW + timedelta(hours=2))
    db.session.commit()
    run_sweep(db, NOW + timedelta(hours=3))
    [reminder] = all_reminders(db)
    assert reminder.status == "answered" and reminder.answered_at == NOW + timedelta(hours=3)


def _rejected_declaration(db, place, decided: datetime, submitter: WeChatUser) -> Declaration:
    address = make_address(place["community"])
    declaration = Declaration(kind="move_in", status="rejected", submitter_role="landlord",
                              submitter_wechat_user_id=submitter.id,
                              receipt_code=f"RJ{address.id:06d}", payload={},
                              address_id=address.id, station_id=address.station_id,
                              police_area_id=address.police_area_id, decided_at=decided,
                              decision_reason="入住日期有误")
    db.session.add(declaration)
    db.session.flush()
    return declaration


def test_rejected_declaration_is_reminded_until_a_correction_arrives(db, place, pushes):
    landlord = make_user()
    declaration = _rejected_declaration(db, place, NOW - timedelta(days=4), landlord)
    _rejected_declaration(db, place, NOW - timedelta(days=1), landlord)  # still within grace
    db.session.commit()

    run_sweep(db, NOW)
    [reminder] = all_reminders(db)
    assert (reminder.rule, reminder.target_type, reminder.target_id) == \
        ("declaration_correction", "declaration", declaration.id)
    assert reminder.link == f"/h5/declarations/{declaration.id}"
    send_all(db, NOW)
    assert pushes.sent[0]["link"] == f"/h5/declarations/{declaration.id}"
    assert ("回执码", declaration.receipt_code) in pushes.sent[0]["lines"]

    db.session.add(Declaration(kind="correction", status="received", submitter_role="landlord",
                               submitter_wechat_user_id=landlord.id, receipt_code="CORR0001",
                               payload={}, corrects_id=declaration.id,
                               station_id=declaration.station_id))
    db.session.commit()
    run_sweep(db, NOW + timedelta(days=1))
    assert [r.status for r in all_reminders(db)] == ["answered"]


def _conflict_reminder(db, place, created: datetime):
    """What validation's check_conflicts leaves: a pending move-out confirmation for the old
    landlord of a tenant who declared elsewhere."""
    owner = make_user()
    old_house = make_house(place, created=NOW - timedelta(days=200), owner=owner,
                           last_confirmed_at=NOW)
    residence = live_in(old_house, "11010519491231002X", date(2026, 1, 1))
    db.session.add(Reminder(rule="move_out_confirm", target_type="residence",
                            target_id=residence.id, period_key="d42",
                            recipient_wechat_user_id=owner.id, station_id=old_house.station_id,
                            status="pending", due_at=created, created_at=created,
                            link=f"/h5/houses/{old_house.id}/move-out"))
    db.session.commit()
    return old_house, residence


def test_move_out_confirmation_is_pushed_then_escalated_after_three_days(db, place, pushes):
    old_house, residence = _conflict_reminder(db, place, NOW)
    assert send_all(db, NOW) == {"sent": 1}
    assert pushes.sent[0]["link"] == f"/h5/houses/{old_house.id}/move-out"

    run_sweep(db, NOW + timedelta(days=2, hours=23))
    assert db.session.execute(select(Alert)).first() is None
    run_sweep(db, NOW + timedelta(days=3))
    run_sweep(db, NOW + timedelta(days=3, hours=1))
    [alert] = db.session.execute(select(Alert)).scalars().all()
    assert (alert.kind, alert.object_type, alert.object_id) == \
        ("move_out_unconfirmed", "residence", residence.id)
    assert alert.police_area_id == old_house.police_area_id and "确认退租" in alert.summary


def test_move_out_confirmation_is_answered_when_the_landlord_declares_the_move_out(db, place):
    _, residence = _conflict_reminder(db, place, NOW)
    residence = db.session.get(Residence, residence.id)
    residence.end(date(2026, 11, 27))
    db.session.commit()
    run_sweep(db, NOW + timedelta(days=4))
    [reminder] = [r for r in all_reminders(db) if r.rule == "move_out_confirm"]
    assert reminder.status == "answered"
    assert db.session.execute(select(Alert)).first() is None


def test_tenant_is_told_at_six_months_that_a_residence_permit_may_be_applied_for(db, place):
    house = make_house(place, created=NOW - timedelta(days=400), owner=make_user(),
                       last_confirmed_at=NOW)
    start = date(2026, 5, 20)  # six months: 2026-11-20, within the 30-day window on 11-27
    eligible = live_in(house, "11010519491231002X", start)
    make_user(eligible.person)
    not_yet = live_in(house, "110105194912310037", date(2026, 6, 1), name="王租客")
    make_user(not_yet.person)
    db.session.commit()
    assert add_months(start, 6) == residence_permit_date(start)

    run_sweep(db, NOW)
    [reminder] = [r for r in all_reminders(db) if r.rule == "residence_permit"]
    assert reminder.target_id == eligible.id and reminder.link == "/h5/me"
    assert reminder.recipient_wechat_user_id != house.owner_wechat_user_id


def test_permit_endorsement_is_reminded_in_the_month_before_each_anniversary(db, place):
    house = make_house(place, created=NOW - timedelta(days=900), owner=make_user(),
                       last_confirmed_at=NOW)
    # Eligible 2025-12-15, so the permit's first anniversary is 2026-12-15.
    residence = live_in(house, "11010519491231002X", date(2025, 6, 15))
    make_user(residence.person)
    db.session.commit()

    run_sweep(db, datetime(2026, 11, 10, 4, 0))  # more than a month before: nothing
    assert [r for r in all_reminders(db) if r.rule == "permit_endorsement"] == []
    run_sweep(db, NOW)
    run_sweep(db, NOW + timedelta(days=5))
    [reminder] = [r for r in all_reminders(db) if r.rule == "permit_endorsement"]
    assert reminder.period_key == "y2026-12-15" and reminder.link == "/h5/me"


def test_rules_take_overrides_from_config_and_refuse_unknown_ones(db, place):
    overridden = rules.load_rules('{"house_undeclared": {"after_days": 7}}')
    assert overridden["house_undeclared"].after_days == 7
    assert overridden["occupancy_unconfirmed"].after_days == 30
    with pytest.raises(ValueError):
        rules.load_rules('{"no_such_rule": {}}')
    make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    run_sweep(db, NOW, rules.Settings(rules=overridden))
    assert all_reminders(db) == []


# -- quiet hours and quota ----------------------------------------------------------------------

@pytest.mark.parametrize("utc_hour, utc_minute, quiet", [
    (13, 59, False),  # 21:59 in Shanghai
    (14, 0, True),  # 22:00
    (23, 59, True),  # 07:59
    (0, 0, False),  # 08:00
])
def test_quiet_hours_run_from_ten_at_night_to_eight_in_shanghai(utc_hour, utc_minute, quiet):
    assert clock.in_quiet_hours(datetime(2026, 11, 27, utc_hour, utc_minute), S) is quiet


def test_send_in_quiet_hours_is_deferred_to_eight_in_the_morning_not_dropped(db, place, pushes):
    make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    night = datetime(2026, 11, 27, 15, 30)  # 23:30 in Shanghai
    run_sweep(db, night)
    assert send_all(db, night) == {"deferred": 1}
    [reminder] = all_reminders(db)
    assert reminder.status == "deferred"
    assert reminder.due_at == datetime(2026, 11, 28, 0, 0)  # 08:00 Shanghai
    assert pushes.sent == []

    assert send_all(db, datetime(2026, 11, 27, 23, 59)) == {}  # 07:59: not due yet
    assert send_all(db, datetime(2026, 11, 28, 0, 0)) == {"sent": 1}
    assert [r.status for r in all_reminders(db)] == ["sent"] and len(pushes.sent) == 1


def test_sweep_queues_nothing_in_quiet_hours(app, db, place, pushes):
    from workers.reminder_jobs import dispatch_due

    make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    night = datetime(2026, 11, 27, 15, 30)
    run_sweep(db, night)
    assert dispatch_due(night, S) == 0
    assert pushes.sent == []


def test_daily_quota_defers_the_rest_to_the_next_morning(db, place, pushes):
    owner = make_user()
    for _ in range(3):
        make_house(place, created=NOW - timedelta(days=5), owner=owner)
    db.session.commit()
    tight = rules.Settings(daily_quota=2)
    pushes.quota = 2
    run_sweep(db, NOW, tight)
    assert send_all(db, NOW, tight) == {"sent": 2, "deferred": 1}
    deferred = [r for r in all_reminders(db) if r.status == "deferred"]
    assert [r.due_at for r in deferred] == [datetime(2026, 11, 28, 0, 0)]  # 08:00 tomorrow
    assert send_all(db, NOW + timedelta(hours=1), tight) == {}  # not before then
    from app.redis_conn import get_redis

    get_redis().delete(quota.quota_key(NOW))  # tomorrow's counter starts at zero
    assert send_all(db, datetime(2026, 11, 28, 0, 0), tight) == {"sent": 1}
    assert len(pushes.sent) == 3


def test_sweep_queues_no_more_sends_than_the_quota_has_left(app, db, place, pushes):
    from app.redis_conn import get_redis
    from workers.reminder_jobs import dispatch_due

    for _ in range(3):
        make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    run_sweep(db, NOW)
    get_redis().set(quota.quota_key(NOW), 99_999)
    assert dispatch_due(NOW, S, now_iso=NOW.isoformat()) == 1


def test_reminders_read_the_quota_counter_the_push_layer_writes():
    from wechat.push import _quota_key

    assert quota.quota_key(NOW) == _quota_key("template", NOW)
    assert quota.quota_key(datetime(2026, 11, 27, 16, 0)) == \
        "anju:wechat:quota:template:20261128"  # midnight in Beijing


# -- sending and results ------------------------------------------------------------------------

def test_a_reminder_is_claimed_by_exactly_one_sender(db, place, pushes):
    make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    run_sweep(db, NOW)
    [reminder] = all_reminders(db)
    assert delivery.claim(reminder.id, NOW, S) == "claimed"
    db.session.commit()
    assert delivery.claim(reminder.id, NOW, S) == "skipped"
    assert delivery.deliver(reminder.id, NOW, S) == "sent"
    db.session.commit()
    assert delivery.deliver(reminder.id, NOW, S) == "skipped"
    assert [p["key"] for p in pushes.sent] == [f"reminder:{reminder.id}"]


def test_delivery_results_are_recorded(db, place, pushes):
    make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    run_sweep(db, NOW)
    pushes.result = notifications.PushResult("failed", "errcode 40003")
    assert send_all(db, NOW) == {"failed": 1}
    [reminder] = all_reminders(db)
    assert reminder.status == "failed" and reminder.error == "errcode 40003"
    assert reminder.sent_at is None


def test_unreachable_landlord_is_escalated_once_to_the_area_officer(db, place, pushes):
    owner = make_user()
    house = make_house(place, created=NOW - timedelta(days=5), owner=owner)
    declaration = _rejected_declaration(db, place, NOW - timedelta(days=4), owner)
    declaration.house_id = house.id
    db.session.commit()
    run_sweep(db, NOW)
    pushes.result = notifications.PushResult("unreachable", "43004")
    assert send_all(db, NOW) == {"unreachable": 2}
    assert len(pushes.sent) == 1  # the second one knew the landlord was unreachable
    assert db.session.get(WeChatUser, owner.id).unreachable_at == NOW
    [alert] = db.session.execute(select(Alert)).scalars().all()
    assert (alert.kind, alert.object_type, alert.object_id, alert.police_area_id) == \
        ("unreachable_landlord", "house", house.id, house.police_area_id)
    assert [r.delivery_result for r in all_reminders(db)] == \
        ["unreachable: 43004", "unreachable: 用户已取消关注"]


def test_late_unreachable_result_from_wechat_is_recorded_and_escalated(db, place, pushes):
    owner = make_user()
    house = make_house(place, created=NOW - timedelta(days=5), owner=owner)
    db.session.commit()
    run_sweep(db, NOW)
    assert send_all(db, NOW) == {"sent": 1}
    [reminder] = all_reminders(db)
    later = NOW + timedelta(minutes=1)
    assert delivery.record_delivery_result(f"reminder:{reminder.id}", "unreachable",
                                            "43004", later, S) == "unreachable"
    assert delivery.record_delivery_result("declaration:1:approved", "failed", None,
                                            later, S) is None
    db.session.commit()
    [reminder] = all_reminders(db)
    assert (reminder.status, reminder.sent_at) == ("unreachable", None)
    assert db.session.get(WeChatUser, owner.id).unreachable_at == later
    assert db.session.execute(select(Alert.object_id)).scalar_one() == house.id


def test_landlord_without_wechat_is_escalated_as_unreachable(db, place, pushes):
    make_house(place, created=NOW - timedelta(days=5), owner=None)
    db.session.commit()
    run_sweep(db, NOW)
    assert send_all(db, NOW) == {"unreachable": 1}
    assert pushes.sent == []
    assert db.session.execute(select(Alert.kind)).scalar_one() == "unreachable_landlord"


def test_three_unanswered_reminders_escalate_to_the_area_officer_once(db, place, pushes):
    house = make_house(place, created=NOW - timedelta(days=3), owner=make_user())
    db.session.commit()
    for week in range(3):
        run_sweep(db, NOW + timedelta(days=7 * week))
        assert send_all(db, NOW + timedelta(days=7 * week)) == {"sent": 1}
    assert db.session.execute(select(Alert)).first() is None
    run_sweep(db, NOW + timedelta(days=21))
    run_sweep(db, NOW + timedelta(days=22))
    [alert] = db.session.execute(select(Alert)).scalars().all()
    assert (alert.kind, alert.object_type, alert.object_id) == \
        ("reminder_unanswered", "house", house.id)
    assert "3次" in alert.summary
    assert [p["link"] for p in pushes.sent] == [f"/h5/houses/{house.id}"] * 3

    alert.status = "closed"  # the officer visited; the same episode is not handed back
    db.session.commit()
    send_all(db, NOW + timedelta(days=21))
    run_sweep(db, NOW + timedelta(days=28))
    assert db.session.execute(select(func.count()).select_from(Alert)).scalar() == 1


def test_two_sweeps_that_both_missed_the_open_escalation_leave_one_open(db, place, pushes,
                                                                       monkeypatch):
    house = make_house(place, created=NOW - timedelta(days=3), owner=make_user())
    db.session.commit()
    for week in range(3):
        run_sweep(db, NOW + timedelta(days=7 * week))
        send_all(db, NOW + timedelta(days=7 * week))
    run_sweep(db, NOW + timedelta(days=21))  # the first sweep raises the escalation
    [first] = db.session.execute(select(Alert)).scalars().all()
    assert first.open_key == f"reminder_unanswered:house:{house.id}"
    # A second sweep whose snapshot predates the first one's commit sees no open alert.
    from app.services.police import alerts

    monkeypatch.setattr(alerts, "already_raised", lambda *args: False)
    stats = run_sweep(db, NOW + timedelta(days=21, minutes=5))
    assert stats.escalated == 0
    assert db.session.execute(select(func.count()).select_from(Alert)).scalar() == 1

    officer = type("Officer", (), {"id": None})()
    escalations.close_escalation(first, officer, "已上门督促", NOW + timedelta(days=22))
    db.session.commit()
    assert db.session.get(Alert, first.id).open_key is None  # closed: a later one may open


def test_reminder_settled_before_sending_is_answered_and_never_pushed(db, place, pushes):
    house = make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    run_sweep(db, NOW)
    house = db.session.get(House, house.id)
    house.is_vacant = True
    db.session.commit()
    run_sweep(db, NOW + timedelta(minutes=5))
    assert send_all(db, NOW + timedelta(minutes=5)) == {}
    assert [r.status for r in all_reminders(db)] == ["answered"] and pushes.sent == []


def test_worker_that_died_mid_send_hands_the_reminder_back(db, place, pushes):
    make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    run_sweep(db, NOW)
    [reminder] = all_reminders(db)
    assert delivery.claim(reminder.id, NOW, S) == "claimed"
    db.session.commit()  # ...and the worker dies here
    run_sweep(db, NOW + timedelta(minutes=5))
    assert all_reminders(db)[0].status == "sending"
    run_sweep(db, NOW + timedelta(minutes=20))
    assert send_all(db, NOW + timedelta(minutes=20)) == {"sent": 1}


def test_sweep_job_queues_each_due_reminder_once(app, db, place, pushes, run_jobs):
    from workers.reminder_jobs import sweep_reminders

    for _ in range(3):
        make_house(place, created=NOW - timedelta(days=5), owner=make_user())
    db.session.commit()
    first = sweep_reminders(NOW.isoformat())
    assert (first["created"], first["queued"]) == (3, 3)
    second = sweep_reminders(NOW.isoformat())
    assert (second["created"], second["queued"]) == (0, 0)
    run_jobs()
    assert sorted(p["key"] for p in pushes.sent) == sorted(
        f"reminder:{r.id}" for r in all_reminders(db))
    assert {r.status for r in all_reminders(db)} == {"sent"}


def test_reminder_goes_out_through_the_wechat_push_channel_once(db, place):
    """End to end with the real send_push (wechat.push against the sandbox's fake WeChat)."""
    from app.models import PushMessage
    from wechat.sandbox import store

    owner = make_user()
    house = make_house(place, created=NOW - timedelta(days=5), owner=owner)
    db.session.commit()
    run_sweep(db, NOW)
    assert send_all(db, NOW) == {"sent": 1}
    [reminder] = all_reminders(db)
    [message] = store.sent_messages(owner.openid)
    assert message["url"].endswith(f"/h5/houses/{house.id}")
    record = db.session.execute(select(PushMessage).where(
        PushMessage.dedupe_key == f"reminder:{reminder.id}")).scalar_one()
    assert record.status == "sent"
    # A worker that lost the claim's commit and tries again is told "duplicate": still one push.
    db.session.execute(Reminder.__table__.update().values(status="sending"))
    db.session.commit()
    assert delivery.deliver(reminder.id, NOW, S) == "sent"
    db.session.commit()
    assert len(store.sent_messages(owner.openid)) == 1


def test_landlord_who_unfollowed_the_account_is_escalated_end_to_end(db, place):
    from wechat.sandbox import store

    fake = store.create_user("已取关的房东", subscribed=False)
    owner = WeChatUser(openid=fake["openid"], source="official_account", subscribed=False)
    db.session.add(owner)
    db.session.flush()
    house = make_house(place, created=NOW - timedelta(days=5), owner=owner)
    db.session.commit()
    run_sweep(db, NOW)
    assert send_all(db, NOW) == {"unreachable": 1}
    [reminder] = all_reminders(db)
    assert reminder.delivery_result == "unreachable: 43004"
    assert db.session.get(WeChatUser, owner.id).unreachable_at is not None
    [alert] = db.session.execute(select(Alert)).scalars().all()
    assert (alert.kind, alert.object_id) == ("unreachable_landlord", house.id)


# -- several processes --------------------------------------------------------------------------

PROCESS_SCRIPT = """
import sys
from app.services.reminders import notifications


def recording_push(wechat_user_id, *, title, lines, link, dedupe_key):
    from app.redis_conn import get_redis

    get_redis().rpush("anju:test:pushes", dedupe_key)
    return notifications.PushResult("sent")


notifications.send_push = recording_push  # the WeChat channel; everything else is real
from workers.__main__ import main

sys.exit(main(sys.argv[1:]))
"""


def test_two_schedulers_and_two_workers_send_each_reminder_exactly_once(app, db, place,
                                                                       tmp_path):
    if not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")):
        pytest.skip("needs MariaDB and Redis (TEST_DATABASE_URL, TEST_REDIS_URL)")
    from app.redis_conn import get_redis
    from workers.queues import enqueue_now
    from workers.reminder_jobs import send_reminder, sweep_reminders

    count = 60
    for _ in range(count):
        make_house(place, created=utcnow() - timedelta(days=5), owner=make_user())
    db.session.commit()
    redis = get_redis()
    script = tmp_path / "anju_proc.py"
    script.write_text(PROCESS_SCRIPT)
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               REDIS_URL=app.config["REDIS_URL"], APP_ENV="testing", WECHAT_SANDBOX="1",
               ANJU_INSTANCE_PATH=str(tmp_path / "instance"),
               REMINDER_QUIET_START="00:00", REMINDER_QUIET_END="00:00",  # any hour will do
               PYTHONPATH=str(Path(__file__).resolve().parents[1]),
               **{k: app.config[k] for k in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS",
                                               "FIELD_ENCRYPTION_ACTIVE_KEY_ID",
                                               "BLIND_INDEX_KEY")})
    argvs = [["--scheduler"], ["--scheduler"], [], []]
    # Each process leads its own group, so stopping it also stops what it forked (a work-horse
    # still in a job would otherwise keep the stderr pipe open and the read below would hang).
    procs = [subprocess.Popen([sys.executable, str(script), *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
             for argv in argvs]
    try:
        # Extra sweeps and direct sends race with the scheduled ones on purpose.
        for _ in range(2):
            enqueue_now(sweep_reminders, queue="low")
        deadline = time.time() + 90
        while time.time() < deadline:
            db.session.expire_all()
            ids = list(db.session.execute(select(Reminder.id)).scalars())
            db.session.rollback()
            if len(ids) == count:
                break
            time.sleep(0.5)
        for reminder_id in ids:
            enqueue_now(send_reminder, reminder_id)
            enqueue_now(send_reminder, reminder_id, queue="high")
        while time.time() < deadline:
            sent = db.session.execute(select(func.count()).select_from(Reminder).where(
                Reminder.status == "sent")).scalar()
            db.session.rollback()
            queued = sum(redis.llen(f"rq:queue:{q}") for q in ("high", "default", "low"))
            if sent == count and queued == 0:
                break
            time.sleep(0.5)
        time.sleep(2)  # let any straggler finish: a double send would show up now
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left
    errors = b"".join(p.stderr.read() for p in procs).decode(errors="replace")
    keys = [k.decode() for k in redis.lrange("anju:test:pushes", 0, -1)]
    db.session.expire_all()
    rows = all_reminders(db)
    assert len(rows) == count, errors[-3000:]
    assert {r.status for r in rows} == {"sent"}, errors[-3000:]
    assert sorted(keys) == sorted(f"reminder:{r.id}" for r in rows)  # each exactly once


# -- late delivery results (TEMPLATESENDJOBFINISH) ------------------------------------------------

def _deliver_finish(client, openid: str, msgid: int, status: str) -> None:
    from tests.wechat import wx

    xml = wx.event_xml(openid, "TEMPLATESENDJOBFINISH", None, MsgID=str(msgid),
                       Status=f"<![CDATA[{status}]]>")
    assert wx.deliver(client, xml).get_data(as_text=True) == "success"


def _push_of(db, reminder):
    from app.models import PushMessage

    return db.session.execute(select(PushMessage).where(
        PushMessage.dedupe_key == f"reminder:{reminder.id}")).scalar_one()


def test_reminder_whose_push_is_later_blocked_counts_toward_unreachable(client, db, place,
                                                                         run_jobs):
    from wechat.sandbox import store

    fake = store.create_user("拉黑的房东", subscribed=True)
    owner = WeChatUser(openid=fake["openid"], source="official_account", subscribed=True)
    db.session.add(owner)
    db.session.flush()
    house = make_house(place, created=NOW - timedelta(days=5), owner=owner)
    db.session.commit()
    run_sweep(db, NOW)
    assert send_all(db, NOW) == {"sent": 1}  # WeChat accepted the send...
    [reminder] = all_reminders(db)
    assert db.session.execute(select(Alert)).first() is None
    _deliver_finish(client, owner.openid, _push_of(db, reminder).msgid, "failed: user block")
    run_jobs()  # ...and later reported that the landlord had blocked the account
    [reminder] = all_reminders(db)
    assert reminder.status == "unreachable"
    assert reminder.delivery_result.startswith("unreachable: failed: user block")
    [alert] = db.session.execute(select(Alert)).scalars().all()
    assert (alert.kind, alert.object_id) == ("unreachable_landlord", house.id)


def test_a_reminder_that_never_arrived_is_not_counted_as_unanswered(client, db, place, run_jobs):
    from wechat.sandbox import store

    fake = store.create_user("房东", subscribed=True)
    owner = WeChatUser(openid=fake["openid"], source="official_account", subscribed=True)
    db.session.add(owner)
    db.session.flush()
    make_house(place, created=NOW - timedelta(days=3), owner=owner)
    db.session.commit()
    for week in range(3):
        run_sweep(db, NOW + timedelta(days=7 * week))
        assert send_all(db, NOW + timedelta(days=7 * week)) == {"sent": 1}
    first = all_reminders(db)[0]
    _deliver_finish(client, owner.openid, _push_of(db, first).msgid, "failed: system failed")
    run_jobs()
    assert all_reminders(db)[0].status == "failed"
    run_sweep(db, NOW + timedelta(days=21))
    run_sweep(db, NOW + timedelta(days=22))
    # Two reminders reached the landlord, not three: no "3 unanswered" escalation yet.
    assert db.session.execute(select(Alert)).first() is None

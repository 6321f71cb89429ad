"""Scenario (d): two schedulers and two workers over hundreds of due reminders raise each
escalation once.

Every house has two due reminders that cannot reach its landlord (no WeChat account for the
house; an unfollowed account for the rejected declaration on it), and both escalate the same
thing: "landlord unreachable" for that house. The send batches run on two real workers at once,
so the two reminders of one house are often delivered at the same moment by different
processes; the database must still hold one open escalation per house.
"""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import case, func, select

from tests.faults.harness import wait_for

# Two reminders each. With one send batch per rule (SEND_BATCH = 200) the two batches run side by
# side on the two workers in the same house order, so both reminders of a house are delivered at
# about the same moment: the race the unique open key has to settle.
HOUSES = 200


def seed_unreachable_landlords(count: int) -> None:
    from app.extensions import db
    from app.models import Declaration, House, WeChatUser, utcnow
    from tests.factories import make_address, make_jurisdiction

    now = utcnow()
    place = make_jurisdiction(prefix="FD")
    for n in range(count):
        address = make_address(place["community"])
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True, rooms=2,
                      created_at=now - timedelta(days=5), collected_at=now - timedelta(days=5))
        submitter = WeChatUser(openid=f"faults-gone-{n}-{time.monotonic_ns()}",
                               source="official_account", subscribed=False,
                               unreachable_at=now - timedelta(days=1))
        db.session.add_all([house, submitter])
        db.session.flush()
        db.session.add(Declaration(
            kind="move_in", status="rejected", submitter_role="landlord",
            submitter_wechat_user_id=submitter.id, receipt_code=f"FD{n:06d}", payload={},
            house_id=house.id, address_id=address.id, station_id=address.station_id,
            police_area_id=address.police_area_id, decided_at=now - timedelta(days=4),
            decision_reason="入住日期有误"))
    db.session.commit()


def test_two_schedulers_and_two_workers_raise_each_escalation_once(stack, figures):
    from app.extensions import db
    from app.models import Alert, Reminder

    seed_unreachable_landlords(HOUSES)
    stack.start_worker()
    stack.start_worker()
    stack.wait_for_workers(2)
    schedulers = [stack.start_scheduler(), stack.start_scheduler()]

    def all_delivered():
        db.session.rollback()
        total, undecided = db.session.execute(select(
            func.count(), func.sum(case((Reminder.status.in_(("pending", "sending")), 1),
                                        else_=0)))).one()
        return total >= 2 * HOUSES and not undecided

    started = time.monotonic()
    wait_for(all_delivered, 120, "every reminder to be delivered (or found unreachable)", 0.5)
    seconds = time.monotonic() - started
    db.session.rollback()
    reminders = db.session.execute(select(func.count()).select_from(Reminder)).scalar()
    rows = db.session.execute(
        select(Alert.object_type, Alert.object_id, func.count())
        .where(Alert.kind == "unreachable_landlord", Alert.status == "open")
        .group_by(Alert.object_type, Alert.object_id)).all()
    doubled = sum(1 for *_, n in rows if n > 1)
    scheduled = sum(s.output().count("scheduled sweep_reminders") for s in schedulers)
    figures(houses=HOUSES, reminders=reminders, escalated_houses=len(rows),
            houses_escalated_twice=doubled, sweeps_scheduled=scheduled,
            seconds=round(seconds, 1))

    assert scheduled == 1, "the two schedulers enqueue the period's sweep once between them"
    assert reminders == 2 * HOUSES
    assert len(rows) == HOUSES, "every house's landlord is escalated"
    assert doubled == 0, f"{doubled} houses have two open escalations"

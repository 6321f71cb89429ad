"""Row helpers of the demo data: bulk inserts, ids by code, receipt codes, table counts, and the
residences left behind by tenants who moved without a move-out."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import (
    Address, Alert, Branch, Community, ControlTask, Declaration, DeclarationEvent, Employer,
    Employment, House, Officer, Person, PoliceArea, Reminder, Residence, Station, Watch, WeChatUser,
)


def table_counts() -> dict:
    models = {"branches": Branch, "stations": Station, "police_areas": PoliceArea,
              "communities": Community, "addresses": Address, "houses": House,
              "persons": Person, "residences": Residence, "declarations": Declaration,
              "employers": Employer, "employments": Employment, "officers": Officer,
              "wechat_users": WeChatUser, "watch_list": Watch, "control_tasks": ControlTask,
              "alerts": Alert}
    return {name: db.session.execute(select(func.count()).select_from(m)).scalar_one()
            for name, m in models.items()}


def ids_by_code(codes: list[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for i in range(0, len(codes), 1000):
        chunk = codes[i:i + 1000]
        result.update(db.session.execute(
            select(Address.code, Address.id).where(Address.code.in_(chunk))).all())
    return result


def bulk_insert(model, rows: list[dict], batch: int = 2000) -> None:
    for i in range(0, len(rows), batch):
        db.session.execute(insert(model), rows[i:i + batch])


def receipt_code(rng: random.Random, used: set[str]) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O/1/I: read aloud over the phone
    while True:
        code = "".join(rng.choice(alphabet) for _ in range(8))
        if code not in used:
            used.add(code)
            return code


def moved_without_move_out(rng: random.Random, houses: list, used_codes: set[str],
                            now: datetime, count: int) -> None:
    """A few tenants declared at a new house while still active at the old one, as validation
    leaves them: the new declaration waits for review and the old landlord has a move-out
    request (move_out_confirm) due now, which the demo's scheduler pushes."""
    active = db.session.execute(
        select(Residence.id, Residence.person_id, Residence.house_id)
        .where(Residence.status == "active").order_by(Residence.id)).all()
    by_id = {h.id: h for h in houses}
    for res_id, person_id, old_house_id in rng.sample(active, min(count, len(active))):
        new_house = rng.choice([h for h in houses if h.id != old_house_id] or houses)
        old_house = by_id.get(old_house_id)
        if old_house is None or new_house.id == old_house_id:
            continue
        start = (now - timedelta(days=rng.randint(1, 3))).date()
        name = db.session.get(Person, person_id).name
        declaration = Declaration(
            kind="move_in", status="needs_review", submitter_role="landlord",
            submitter_wechat_user_id=new_house.owner_wechat_user_id, channel="wechat_h5",
            receipt_code=receipt_code(rng, used_codes),
            payload={"house_id": new_house.id,
                     "address": db.session.get(Address, new_house.address_id).full_text,
                     "tenants": [
                {"person_id": person_id, "name": name, "start_date": start.isoformat()}]},
            reasons=[{"field": "tenants.0", "message": f"{name}仍登记在其他房屋居住，已请原房东确认退租"}],
            address_id=new_house.address_id, house_id=new_house.id,
            station_id=new_house.station_id, police_area_id=new_house.police_area_id,
            created_at=now - timedelta(hours=rng.randint(1, 20)))
        db.session.add(declaration)
        db.session.flush()
        declaration.events.append(DeclarationEvent(from_status=None, to_status="received",
                                                   actor="landlord", at=declaration.created_at))
        declaration.events.append(DeclarationEvent(from_status="received", to_status="needs_review",
                                                   actor="worker", at=declaration.created_at))
        db.session.add(Residence(
            person_id=person_id, house_id=new_house.id, start_date=start, declared_by="landlord",
            channel="wechat_h5", status="pending", active_slot=1, declaration_id=declaration.id,
            collected_at=declaration.created_at, collected_by_type="landlord",
            collected_channel="wechat_h5"))
        db.session.add(Reminder(
            rule="move_out_confirm", target_type="residence", target_id=res_id,
            period_key=f"d{declaration.id}", recipient_wechat_user_id=old_house.owner_wechat_user_id,
            station_id=old_house.station_id, status="pending", due_at=now,
            link=f"/h5/houses/{old_house.id}/move-out"))
    db.session.flush()

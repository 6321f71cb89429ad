"""Automatic checks of a declaration (DESIGN §3 lifecycle, §4 flow 5).

received → validating → verified | needs_review. Each reason is {"field", "message"} in Chinese;
reasons with "silent": true (a watch-list hit) are for officers only: the submitter just sees
"under review". Running the checks twice changes nothing the second time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app import crypto
from app.extensions import db
from app.identity import IdentityError, check_document
from app.models import (
    Address,
    Declaration,
    Employment,
    House,
    MissedRegistration,
    Person,
    PersonChange,
    Reminder,
    Residence,
    Watch,
    WeChatUser,
    utcnow,
)
from app.models.person import CHANGE_FIELD_LABELS
from app.outbox import jobs
from app.services.people.people import apply_change, proposals_of
from app.services.police.missed import note_registration
from app.services.police.tasks import close_moved_away, open_tasks
from app.services.registry.address_match import decisive, match_address

PERSONS_PER_ROOM = 2  # occupancy above rooms × this needs an officer's look
MOVE_OUT_CONFIRM_DAYS = 3
FINAL = ("verified", "needs_review", "approved", "flagged", "rejected")


@dataclass
class Outcome:
    reasons: list[dict] = field(default_factory=list)
    candidates: list[dict] | None = None

    def add(self, field_name: str, message: str, silent: bool = False) -> None:
        reason = {"field": field_name, "message": message}
        if silent:
            reason["silent"] = True
        if reason not in self.reasons:
            self.reasons.append(reason)


class Lookups:
    """The checks' database lookups; batch validation swaps in prefetched ones per chunk."""

    def live_elsewhere(self, person_id: int, house_id: int) -> list[Residence]:
        return db.session.execute(
            select(Residence).where(Residence.person_id == person_id,
                                    Residence.house_id != house_id,
                                    Residence.active_slot.is_not(None))
        ).scalars().all()

    def live_count(self, house_id: int) -> int:
        return db.session.execute(select(func.count()).select_from(Residence).where(
            Residence.house_id == house_id, Residence.active_slot.is_not(None))).scalar_one()

    def watch_for(self, person: Person) -> Watch | None:
        return db.session.execute(select(Watch).where(
            Watch.document_type == person.document_type,
            Watch.document_blind_index == person.document_blind_index,
            Watch.delisted_at.is_(None))).scalars().first()

    def open_misses(self, person: Person) -> list[MissedRegistration]:
        return db.session.execute(select(MissedRegistration).where(
            MissedRegistration.document_type == person.document_type,
            MissedRegistration.document_blind_index == person.document_blind_index,
            MissedRegistration.status == "open")).scalars().all()

    def proposed(self, model, declaration_id: int) -> list:
        return db.session.execute(select(model).where(
            model.declaration_id == declaration_id, model.status == "pending")).scalars().all()

    def proposals(self, declaration_id: int) -> list[PersonChange]:
        return proposals_of(declaration_id)

    def flush(self) -> None:
        db.session.flush()


_DIRECT = Lookups()
LOOKUPS_KEY = "validation_lookups"


def _lookups() -> Lookups:
    return db.session.info.get(LOOKUPS_KEY) or _DIRECT


def _persons(declaration: Declaration) -> list[tuple[str, Person]]:
    payload = declaration.payload or {}
    people = []
    for key in ("tenants", "workers"):
        for i, item in enumerate(payload.get(key) or []):
            person = db.session.get(Person, item.get("person_id"))
            if person is not None:
                people.append((f"{key}.{i}", person))
    for key in ("owner", "agent"):
        item = payload.get(key)
        if item and item.get("person_id"):
            person = db.session.get(Person, item["person_id"])
            if person is not None:
                people.append((key, person))
    return people


def check_address(declaration: Declaration, outcome: Outcome) -> None:
    """By door-plate token the address is exact; free text is fuzzy-matched within its community."""
    if declaration.address_id is not None:
        address = db.session.get(Address, declaration.address_id)
        if address is None or address.status != "active":
            outcome.add("address", "申报地址不是有效的标准地址")
        return
    payload = declaration.payload or {}
    text = payload.get("address_text")
    if not text:
        if declaration.kind in ("house", "move_in", "self", "move_out"):
            outcome.add("address", "缺少申报地址")
        return
    candidates = match_address(text, community_id=payload.get("community_id"),
                               station_id=payload.get("station_id") or declaration.station_id)
    outcome.candidates = [c.as_dict() for c in candidates]
    chosen = decisive(candidates)
    if chosen is None:
        outcome.add("address", "填写的地址未能唯一匹配标准地址，需民警确认")
        return
    address = db.session.get(Address, chosen.address_id)
    declaration.address_id = address.id
    declaration.station_id = address.station_id
    declaration.police_area_id = address.police_area_id


def check_documents(declaration: Declaration, outcome: Outcome) -> None:
    """Re-check every document: rules may have changed since submission (e.g. an expired date)."""
    for prefix, person in _persons(declaration):
        try:
            check_document(person.document_type, crypto.decrypt(person.document_number_enc),
                           nationality=person.nationality if person.document_type == "passport"
                           else None)
        except IdentityError as exc:
            outcome.add(f"{prefix}.document_number", exc.message)


def check_conflicts(declaration: Declaration, outcome: Outcome) -> None:
    """A tenant still live at another house: push that landlord a move-out confirmation now,
    and hold the declaration for an officer (two live residences need a human look)."""
    if declaration.kind not in ("move_in", "self", "correction") or declaration.house_id is None:
        return
    for i, item in enumerate(declaration.payload.get("tenants") or []):
        others = _lookups().live_elsewhere(item["person_id"], declaration.house_id)
        for other in others:
            old_house = db.session.get(House, other.house_id)
            exists = db.session.execute(select(Reminder.id).where(
                Reminder.rule == "move_out_confirm", Reminder.target_type == "residence",
                Reminder.target_id == other.id, Reminder.period_key == f"d{declaration.id}",
            )).first()
            if not exists:
                reminder = Reminder(
                    rule="move_out_confirm", target_type="residence", target_id=other.id,
                    period_key=f"d{declaration.id}",
                    recipient_wechat_user_id=old_house.owner_wechat_user_id,
                    station_id=old_house.station_id, status="pending", due_at=utcnow(),
                    link=f"/h5/houses/{old_house.id}/move-out")
                db.session.add(reminder)
                db.session.flush()  # conflicts are rare: the id is worth a flush, even in a batch
                # Sent right after this commit, not at the next hourly sweep (quiet hours and
                # the quota still apply: the send defers it).
                jobs.after_commit("workers.reminder_jobs.send_reminders", [reminder.id])
            outcome.add(f"tenants.{i}",
                        f"{item.get('name', '')}仍登记在其他房屋居住，已请原房东确认退租",)


def check_occupancy(declaration: Declaration, outcome: Outcome) -> None:
    """More people than the rooms can reasonably hold needs an officer's look."""
    if declaration.house_id is None or declaration.kind not in ("move_in", "self", "hire"):
        return
    house = db.session.get(House, declaration.house_id)
    if not house or not house.rooms:
        return
    live = _lookups().live_count(house.id)
    if live > house.rooms * PERSONS_PER_ROOM:
        outcome.add("rooms", f"登记居住{live}人，超过{house.rooms}个房间的合理容量")


def check_watch_list(declaration: Declaration, outcome: Outcome) -> None:
    """A listed person creates control tasks silently; the declaration never auto-verifies."""
    for prefix, person in _persons(declaration):
        watch = _lookups().watch_for(person)
        if watch is None:
            continue
        outcome.add(prefix, "关注人员，需民警核查", silent=True)
        if declaration.kind in ("move_out", "leave") or prefix in ("owner", "agent"):
            continue  # tasks are for people living or working here, not owners or leavers
        open_tasks(watch, person, station_id=declaration.station_id,
                   police_area_id=declaration.police_area_id, house_id=declaration.house_id,
                   employer_id=declaration.employer_id, declaration_id=declaration.id)


def close_tasks_of_leavers(declaration: Declaration) -> None:
    """A move-out or leave that ends the person's last live stay in the district closes the
    person's open control tasks as moved away."""
    if declaration.kind not in ("move_out", "leave"):
        return

    payload = declaration.payload or {}
    for item in (payload.get("tenants") or []) + (payload.get("workers") or []):
        if item.get("person_id"):
            close_moved_away(item["person_id"], moved_to=payload.get("moved_to"))


def check_proposed_changes(declaration: Declaration, outcome: Outcome) -> None:
    """What a declaration proposes about an existing person is applied only when nobody else
    vouches for that person: someone proven, or living at another landlord's house, needs an
    officer to decide."""
    changes = _lookups().proposals(declaration.id)
    if not changes:
        return
    prefixes = {person.id: prefix for prefix, person in _persons(declaration)}
    for change in changes:
        label = CHANGE_FIELD_LABELS.get(change.field, change.field)
        where = f"{prefixes.get(change.person_id, 'person')}.{change.field}"
        elsewhere = db.session.execute(
            select(Residence.id).join(House, House.id == Residence.house_id).where(
                Residence.person_id == change.person_id, Residence.status == "active",
                Residence.active_slot.is_not(None),
                House.id != (declaration.house_id or -1),
                (House.owner_wechat_user_id.is_(None)
                 | (House.owner_wechat_user_id != (declaration.submitter_wechat_user_id or -1))))
            .limit(1)).first()
        if elsewhere:
            outcome.add(where, f"申报的{label}与该人员在其他房屋的登记不一致，需民警审核")
            continue
        proven = db.session.execute(select(WeChatUser.id).where(
            WeChatUser.person_id == change.person_id,
            WeChatUser.id != (declaration.submitter_wechat_user_id or -1)).limit(1)).first()
        if proven:
            outcome.add(where, f"申报的{label}与该人员实名核验的信息不一致，需民警审核")


def resolve_missed_registrations(declaration: Declaration) -> None:
    """Open 漏登 trace-backs of a person now registered show it (已补登, which declaration); an
    officer still closes them (app/services/police/missed.py)."""
    for _prefix, person in _persons(declaration):
        for miss in _lookups().open_misses(person):
            note_registration(miss, declaration)


def activate_proposed_rows(declaration: Declaration) -> None:
    """Residences and employments proposed by the declaration become active."""
    for model in (Residence, Employment):
        for row in _lookups().proposed(model, declaration.id):
            row.status = "active"


def withdraw_proposed_rows(declaration: Declaration) -> None:
    """A rejected declaration's proposed residences and employments are ended, freeing the slot
    (also those automatic verification had made active: the officer's word is the last)."""
    for model in (Residence, Employment):
        rows = db.session.execute(select(model).where(
            model.declaration_id == declaration.id, model.status.in_(("pending", "active")),
            model.end_date.is_(None))).scalars()
        for row in rows:
            row.status, row.active_slot = "ended", None


def check_placed(declaration: Declaration, outcome: Outcome) -> None:
    """A typed address no registered house (or standard address) stands behind is for the
    officer of the chosen community to place."""
    if declaration.kind in ("move_in", "self") and declaration.house_id is None:
        outcome.add("address", "该地址尚无登记的出租房屋，需社区民警核实")
    for i, worker in enumerate((declaration.payload or {}).get("workers") or []):
        if worker.get("dormitory_typed"):
            outcome.add(f"workers.{i}.dormitory_address_text",
                        "宿舍地址未能匹配标准地址，需民警确认")


CHECKS = (check_address, check_documents, check_conflicts, check_occupancy, check_watch_list,
          check_proposed_changes, check_placed)


def validate(declaration: Declaration) -> bool:
    """Run every check on a declaration in received/validating; False when it was already done."""
    if declaration.status in FINAL:
        return False
    if declaration.status == "received":
        declaration.transition("validating", "worker")
    outcome = Outcome()
    for check in CHECKS:
        check(declaration, outcome)
    resolve_missed_registrations(declaration)
    close_tasks_of_leavers(declaration)
    declaration.reasons = outcome.reasons or None
    if outcome.candidates is not None:
        declaration.candidates = outcome.candidates
    # Any reason at all needs an officer: "verified" means nothing is left to check by hand.
    if outcome.reasons:
        declaration.transition("needs_review", "worker",
                               "；".join(r["message"] for r in outcome.reasons))
    else:
        declaration.transition("verified", "worker")
        # A tenant's self-declaration becomes active only once the landlord confirms it.
        if not (declaration.kind == "self" and declaration.landlord_confirmation != "confirmed"):
            activate_proposed_rows(declaration)
            for change in _lookups().proposals(declaration.id):
                apply_change(change, "worker")
    _lookups().flush()
    return True


def public_reasons(declaration: Declaration) -> list[dict]:
    """Reasons the submitter may see: silent ones are hidden, and if any exists, all are."""
    reasons = declaration.reasons or []
    if any(r.get("silent") for r in reasons):
        return []
    return reasons

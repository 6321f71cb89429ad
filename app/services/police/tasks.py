"""Control tasks (管控任务): one per checklist template (五见, 四知) for a listed person living or
working in the district, in the police area of the address; completed item by item with who,
when, where (GPS, or why not), a note and optional photo evidence (DESIGN §3, §5)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import (
    Alert, ChecklistTemplate, ControlTask, Employer, Employment, House, Officer, Person, Residence,
    Watch, utcnow,
)
from app.services.accounts import audit
from app.services.accounts.scoping import scope
from app.services.police.checklist import active_templates
from app.services.errors import RuleError, StateConflict
from app.services.police.alerts import raise_alert

MAX_PHOTO_BYTES = 5 * 1024 * 1024
_MAGIC = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
LIVE = ("pending", "active")  # a residence or employment not ended
STATUS_LABELS = {"open": "进行中", "done": "已完成", "moved_away": "已迁出", "cancelled": "已撤销"}


class TaskConflict(StateConflict):
    """The task or item is no longer open for this action."""


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def open_tasks(watch: Watch, person: Person, *, station_id: int | None,
               police_area_id: int | None, house_id: int | None = None,
               employer_id: int | None = None, declaration_id: int | None = None,
               now: datetime | None = None) -> list[ControlTask]:
    """Open one task per active template for a listed person found living or working here,
    unless such a task is open already; a new hit raises a watch_hit alert. Returns new tasks."""
    if station_id is None:
        return []
    now = now or utcnow()
    open_names = set(db.session.execute(
        select(ChecklistTemplate.name).join(ControlTask, ControlTask.template_id
                                            == ChecklistTemplate.id)
        .where(ControlTask.watch_id == watch.id, ControlTask.person_id == person.id,
               ControlTask.status == "open")).scalars())
    created = []
    for template in active_templates():
        if template.name in open_names:
            continue
        checklist = []
        for item in template.items:
            days = int(item.get("deadline_days") or template.default_deadline_days)
            checklist.append({"key": item["key"], "label": item["label"], "deadline_days": days,
                              "deadline": (now + timedelta(days=days)).isoformat(),
                              "done_at": None})
        task = ControlTask(watch_id=watch.id, person_id=person.id, house_id=house_id,
                           employer_id=employer_id, declaration_id=declaration_id,
                           template_id=template.id, station_id=station_id,
                           police_area_id=police_area_id, checklist=checklist,
                           deadline=max(_parse(i["deadline"]) for i in checklist), status="open")
        db.session.add(task)
        created.append(task)
    if created:
        db.session.flush()
        where = "入住" if house_id else "就业"
        raise_alert("watch_hit", "control_task", created[0].id, station_id=station_id,
                    police_area_id=police_area_id, now=now,
                    summary=f"关注人员{person.name}在辖区{where}，已生成管控任务")
    return created


def match_watch(watch: Watch, now: datetime | None = None) -> list[ControlTask]:
    """On listing: every live residence and employment of the listed person in the district
    opens its tasks."""
    if watch.delisted_at is not None:
        return []
    persons = db.session.execute(select(Person).where(
        Person.document_type == watch.document_type,
        Person.document_blind_index == watch.document_blind_index)).scalars().all()
    created = []
    for person in persons:
        for residence in db.session.execute(select(Residence).where(
                Residence.person_id == person.id, Residence.status.in_(LIVE))).scalars():
            house = db.session.get(House, residence.house_id)
            created += open_tasks(watch, person, station_id=house.station_id,
                                  police_area_id=house.police_area_id, house_id=house.id,
                                  declaration_id=residence.declaration_id, now=now)
        for employment in db.session.execute(select(Employment).where(
                Employment.person_id == person.id,
                Employment.status.in_(LIVE))).scalars():
            employer = db.session.get(Employer, employment.employer_id)
            created += open_tasks(watch, person, station_id=employer.station_id,
                                  police_area_id=employer.police_area_id,
                                  employer_id=employer.id, house_id=employment.dormitory_house_id,
                                  declaration_id=employment.declaration_id, now=now)
    return created


def is_on_time(task: ControlTask) -> bool:
    """On time: every item done by its own deadline."""
    return all(item.get("done_at") and _parse(item["done_at"]) <= _parse(item["deadline"])
               for item in task.checklist)


def overdue_items(task: ControlTask, now: datetime) -> list[dict]:
    """The items of an open task still undone after their deadline."""
    if task.status != "open":
        return []
    return [item for item in task.checklist
            if not item.get("done_at") and _parse(item["deadline"]) < now]


def _coordinate(value, low: float, high: float, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RuleError(field, "定位坐标格式不正确") from None
    if not low <= number <= high or number != number:
        raise RuleError(field, "定位坐标超出范围")
    return number


def complete_item(task: ControlTask, key: str, officer: Officer, *, lat=None, lng=None,
                  no_gps_reason: str | None = None, note: str | None = None,
                  photo: str | None = None, channel: str = "console",
                  now: datetime | None = None) -> dict:
    """Record one checklist item done: time, officer, GPS (or why there is none), note, photo.
    The task is done when its last item is."""
    now = now or utcnow()
    if task.status != "open":
        raise TaskConflict("该任务已关闭，不能再填报")
    items = [dict(item) for item in task.checklist]
    item = next((i for i in items if i["key"] == key), None)
    if item is None:
        raise RuleError("item", "没有这个核查事项")
    if item.get("done_at"):
        raise TaskConflict("该事项已完成")
    lat = _coordinate(lat, -90, 90, "lat")
    lng = _coordinate(lng, -180, 180, "lng")
    if (lat is None) != (lng is None):
        raise RuleError("lat", "经纬度须同时提供")
    reason = (no_gps_reason or "").strip()
    if lat is None and not reason:
        raise RuleError("no_gps_reason", "未获取到定位，请说明原因")
    if len(reason) > 200:
        raise RuleError("no_gps_reason", "原因不超过 200 字")
    note = (note or "").strip()
    if len(note) > 1000:
        raise RuleError("note", "情况记录不超过 1000 字")
    item.update(done_at=now.isoformat(), officer_id=officer.id, officer_name=officer.name,
                lat=lat, lng=lng, no_gps_reason=None if lat is not None else reason,
                note=note or None, photo=photo, channel=channel,
                on_time=now <= _parse(item["deadline"]))
    task.checklist = items
    if all(i.get("done_at") for i in items):
        task.status, task.completed_at, task.completed_by_officer_id = "done", now, officer.id
        task.evidence_lat, task.evidence_lng = lat, lng
        task.evidence_note = note or None
    db.session.flush()
    return item


def store_photo(directory: str, data: bytes) -> str:
    """Keep a JPEG or PNG (≤ 5 MB, checked by its magic bytes) in `directory`, named by its
    content hash; returns the name."""
    if not data:
        raise RuleError("photo", "照片为空")
    if len(data) > MAX_PHOTO_BYTES:
        raise RuleError("photo", "照片不能超过 5 MB")
    ext = next((e for magic, e in _MAGIC.items() if data.startswith(magic)), None)
    if ext is None:
        raise RuleError("photo", "照片须为 JPEG 或 PNG 格式")
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return name


def photo_path(directory: str, name: str) -> str | None:
    """The stored file for a photo name recorded on a task, or None for anything else."""
    stem, _, ext = (name or "").partition(".")
    if len(stem) != 64 or ext not in ("jpg", "png") or any(c not in "0123456789abcdef"
                                                           for c in stem):
        return None
    path = os.path.join(directory, name)
    return path if os.path.isfile(path) else None


def sweep_overdue(now: datetime | None = None) -> int:
    """Raise one alert for the station admin per open task with an overdue item, once per task
    (a closed alert is not raised again). Returns how many were raised."""
    now = now or utcnow()
    alerted = select(Alert.object_id).where(Alert.kind == "control_overdue",
                                            Alert.object_type == "control_task")
    raised = 0
    tasks = db.session.execute(select(ControlTask).where(
        ControlTask.status == "open", ControlTask.id.not_in(alerted))
        .order_by(ControlTask.id)).scalars().all()
    for task in tasks:
        late = overdue_items(task, now)
        if not late:
            continue
        person = db.session.get(Person, task.person_id)
        labels = "、".join(i["label"].split("：")[0] for i in late[:3])
        alert = raise_alert("control_overdue", "control_task", task.id, station_id=task.station_id,
                            police_area_id=task.police_area_id, now=now,
                            since=task.created_at,
                            summary=f"关注人员{person.name}的管控事项逾期未完成：{labels}")
        raised += alert is not None
    db.session.flush()
    return raised


def still_in_district(person_id: int) -> bool:
    """True while the person has a live residence or employment anywhere in the district."""
    residence = db.session.execute(select(Residence.id).where(
        Residence.person_id == person_id, Residence.status.in_(LIVE))).first()
    employment = db.session.execute(select(Employment.id).where(
        Employment.person_id == person_id, Employment.status.in_(LIVE))).first()
    return bool(residence or employment)


def close_moved_away(person_id: int, moved_to: str | None = None,
                     now: datetime | None = None) -> list[ControlTask]:
    """A person with no live residence or employment left in the district: open tasks close as
    "moved away", with where to when known."""
    if still_in_district(person_id):
        return []
    now = now or utcnow()
    tasks = db.session.execute(select(ControlTask).where(
        ControlTask.person_id == person_id, ControlTask.status == "open")).scalars().all()
    for task in tasks:
        task.status, task.completed_at = "moved_away", now
        task.closed_reason = "已迁出辖区" + (f"，去向：{moved_to.strip()[:200]}"
                                          if moved_to and moved_to.strip() else "，去向不明")
    db.session.flush()
    return tasks


def cancel_for_delisting(watch: Watch, reason: str, now: datetime | None = None) -> int:
    """Delisting a person cancels the open tasks made for the listing."""
    now = now or utcnow()
    tasks = db.session.execute(select(ControlTask).where(
        ControlTask.watch_id == watch.id, ControlTask.status == "open")).scalars().all()
    for task in tasks:
        task.status, task.completed_at = "cancelled", now
        task.closed_reason = f"已撤管：{reason}"[:2000]
    db.session.flush()
    return len(tasks)


def tasks_for(officer: Officer, *, status: str = "open", page: int = 1,
              per_page: int = 50) -> tuple[list[ControlTask], bool]:
    """Control tasks in the officer's area (scoping.py), nearest deadline first."""
    stmt = scope(ControlTask, select(ControlTask), officer)
    if status in STATUS_LABELS:
        stmt = stmt.where(ControlTask.status == status)
    stmt = stmt.order_by(ControlTask.deadline, ControlTask.id)
    rows = db.session.execute(
        stmt.offset((max(page, 1) - 1) * per_page).limit(per_page + 1)).scalars().all()
    return rows[:per_page], len(rows) > per_page


def decode_base64(text: str, field: str, message: str) -> bytes:
    """A photo or drawn signature sent as base64; RuleError(field, message) if it does not decode."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RuleError(field, message) from None


def complete_item_audited(task: ControlTask, key: str, officer: Officer, *, via: str,
                          ip: str | None, **fields) -> dict:
    """complete_item() with its audit row (via: "console" or "api")."""
    item = complete_item(task, key, officer, **fields)
    audit.record(officer, "control_task.item", "control_task", task.id, ip=ip,
                 detail={"item": item["key"], "gps": item["lat"] is not None, "channel": via})
    return item

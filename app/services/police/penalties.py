"""Penalty decisions (处罚决定) on landlords who did not register their tenants, and each
landlord's record of 漏登 and penalties with repeats within 12 months marked (再次违法).

A penalty is decided from a 漏登 (MissedRegistration) or from a house; the legal basis is chosen
by the offence date from the dated table of laws (legal_basis.py) and the amount checked against
that article's range. Every decision is scoped to the officer's station and audited.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.formatting import local_date, to_local
from app.models import House, MissedRegistration, Officer, Penalty, Person, Station, utcnow
from app.services.accounts import audit, scoping
from app.services.errors import RuleError, StateConflict
from app.services.kpis.reports import cjk_font_name
from app.services.police import legal_basis

REPEAT_MONTHS = 12
MAX_NOTE = 1000


@dataclass
class PenaltyTarget:
    """What a penalty form is about: the house, who may be the landlord, and the 漏登 if any."""

    house: House
    landlords: list[Person]
    missed: MissedRegistration | None = None
    default_landlord_id: int | None = None
    default_offence_date: date | None = None


def _landlords_of(house: House) -> list[Person]:
    return [p for p in (house.owner, house.agent) if p is not None]


def target_for_house(house_id, officer: Officer) -> PenaltyTarget:
    """A penalty from a house of the officer's area: its owner (or agent) is the landlord."""
    house = scoping.scoped_get(House, house_id, officer)
    landlords = _landlords_of(house)
    return PenaltyTarget(house, landlords,
                         default_landlord_id=landlords[0].id if landlords else None)


def target_for_missed(missed_id, officer: Officer) -> PenaltyTarget:
    """A penalty from a 漏登 of the officer's station: its house and landlord, its date."""
    missed = scoping.scoped_get(MissedRegistration, missed_id, officer)
    if missed.house_id is None:
        raise RuleError("missed_registration_id",
                        "该漏登尚未查明居住的房屋，请先在核查任务中填写房屋")
    house = db.session.get(House, missed.house_id)
    landlords = _landlords_of(house)
    named = db.session.get(Person, missed.landlord_person_id) if missed.landlord_person_id else None
    if named is not None and named not in landlords:
        landlords.insert(0, named)
    default = named or (landlords[0] if landlords else None)
    return PenaltyTarget(house, landlords, missed, default.id if default else None,
                         missed_date(missed))


def missed_date(missed: MissedRegistration) -> date:
    """When the 漏登 happened: the case date (案前比对) or the day it was found (抽查)."""
    if missed.case_check is not None:
        return missed.case_check.case_date
    return to_local(missed.created_at).date()


def record_penalty(officer: Officer, target: PenaltyTarget, *, landlord_person_id,
                   offence_date: date | None, kind: str = "fine", amount_yuan=None,
                   minor: bool = False, note: str | None = None, ip: str | None = None,
                   channel: str = "console", now: datetime | None = None) -> Penalty:
    """Record a penalty decision: the basis by the offence date, the sanction within its range.
    Raises RuleError naming the field (landlord_person_id, offence_date, kind, amount_yuan,
    minor, note) in Chinese; StateConflict when the 漏登 already has a decision."""
    now = now or utcnow()
    landlord = next((p for p in target.landlords if str(p.id) == str(landlord_person_id)), None)
    if landlord is None:
        raise RuleError("landlord_person_id", "请选择该房屋的房主或托管人作为被处罚人"
                        if target.landlords else "该房屋未登记房主，请先登记房主后再作出处罚决定")
    if offence_date is None:
        raise RuleError("offence_date", "请填写违法行为发生日期")
    if offence_date > to_local(now).date():
        raise RuleError("offence_date", "违法行为发生日期不能晚于今天")
    basis = legal_basis.basis_for(offence_date)
    amount = legal_basis.check_sanction(basis, kind, legal_basis.parse_amount(amount_yuan),
                                        bool(minor))
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise RuleError("note", f"违法事实最多 {MAX_NOTE} 字")
    if target.missed is not None and db.session.execute(select(Penalty.id).where(
            Penalty.missed_registration_id == target.missed.id)).first():
        raise StateConflict("该漏登已作出处罚决定")
    penalty = Penalty(
        landlord_person_id=landlord.id, house_id=target.house.id,
        station_id=target.house.station_id,
        missed_registration_id=target.missed.id if target.missed else None,
        offence_date=offence_date, legal_basis=basis.short, legal_basis_key=basis.key,
        legal_citation=basis.citation, legal_text=basis.text, minor=bool(minor), kind=kind,
        amount_yuan=amount, decided_by_officer_id=officer.id, decided_at=now, note=note or None)
    try:
        with db.session.begin_nested():  # the unique 漏登 index decides a race, not timing
            db.session.add(penalty)
    except IntegrityError:
        raise StateConflict("该漏登已作出处罚决定") from None
    audit.record(officer, "penalty.record", "penalty", penalty.id, ip=ip, detail={
        "house_id": target.house.id, "landlord_person_id": landlord.id,
        "missed_registration_id": penalty.missed_registration_id, "basis": basis.key,
        "kind": kind, "amount_yuan": str(amount) if amount is not None else None,
        "minor": bool(minor), "channel": channel})
    return penalty


def get_penalty(penalty_id, officer: Officer) -> Penalty:
    """A penalty of the officer's station (404 otherwise, never 403)."""
    return scoping.scoped_get(Penalty, penalty_id, officer)


def house_penalties(house: House, officer: Officer) -> list[Penalty]:
    """The penalties decided about this house that the officer may see, newest first."""
    return list(db.session.execute(scoping.scope_penalties(
        select(Penalty).where(Penalty.house_id == house.id), officer)
        .order_by(Penalty.offence_date.desc(), Penalty.id.desc())).scalars())


def sanction_label(penalty: Penalty) -> str:
    """"罚款 500 元", "警告"; with "（情节较轻）" when it was minor."""
    text = ("警告" if penalty.kind == "warning"
            else f"罚款 {legal_basis.yuan(Decimal(penalty.amount_yuan))} 元")
    return text + ("（情节较轻）" if penalty.minor else "")


# -- the landlord's record (re-offence awareness) ------------------------------------------------

def year_before(day: date, months: int = REPEAT_MONTHS) -> date:
    """The same calendar day `months` earlier (29 February → 28 February)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, d)
        except ValueError:
            continue
    raise ValueError(day)


@dataclass
class RecordEntry:
    """One line of a landlord's record: a 漏登 or a penalty, on the day of the offence."""

    kind: str  # "missed" / "penalty"
    day: date
    house_id: int | None
    missed: MissedRegistration | None = None
    penalty: Penalty | None = None
    offence: bool = True  # False for a penalty on a listed 漏登: the same offence, not another
    repeat: bool = False  # an earlier offence of the landlord lies within 12 months before it


@dataclass
class LandlordRecord:
    entries: list[RecordEntry] = field(default_factory=list)
    houses: dict[int, House] = field(default_factory=dict)  # by id, for the addresses shown

    @property
    def repeats(self) -> int:
        return sum(1 for e in self.entries if e.repeat)

    def offences_within(self, day: date, exclude_missed_id: int | None = None) -> list[RecordEntry]:
        """Offences in the 12 months up to `day`: would an offence on `day` be a repeat?"""
        start = year_before(day)
        return [e for e in self.entries if e.offence and start <= e.day <= day
                and not (e.missed is not None and e.missed.id == exclude_missed_id)]


def landlord_record(person: Person, officer: Officer) -> LandlordRecord:
    """The 漏登 charged to this landlord and the penalties decided on them, in the officer's
    station scope, newest first; an offence with an earlier one within 12 months is a repeat."""
    misses = db.session.execute(scoping.scope_missed(
        select(MissedRegistration).where(MissedRegistration.landlord_person_id == person.id),
        officer)).scalars().all()
    penalties = db.session.execute(scoping.scope_penalties(
        select(Penalty).where(Penalty.landlord_person_id == person.id), officer)).scalars().all()
    entries = [RecordEntry("missed", missed_date(m), m.house_id, missed=m) for m in misses]
    listed = {m.id for m in misses}
    for p in penalties:
        entries.append(RecordEntry("penalty", p.offence_date, p.house_id, penalty=p,
                                   offence=p.missed_registration_id not in listed))
    offences = sorted((e for e in entries if e.offence),
                      key=lambda e: (e.day, e.kind, e.missed.id if e.missed else e.penalty.id))
    for i, entry in enumerate(offences):  # sorted: the one before is the latest earlier one
        entry.repeat = i > 0 and offences[i - 1].day >= year_before(entry.day)
    by_miss = {e.missed.id: e for e in entries if e.missed is not None}
    for entry in entries:
        if entry.penalty is not None and entry.penalty.missed_registration_id in by_miss:
            entry.repeat = by_miss[entry.penalty.missed_registration_id].repeat
    entries.sort(key=lambda e: (e.day, e.kind == "penalty"), reverse=True)
    ids = {e.house_id for e in entries if e.house_id}
    houses = {h.id: h for h in db.session.execute(
        select(House).where(House.id.in_(ids))).scalars()} if ids else {}
    return LandlordRecord(entries, houses)


# -- the printable record ------------------------------------------------------------------------

def render_pdf(penalty: Penalty) -> bytes:
    """The one-page printable record of a decision (A4, Chinese), citing the legal text."""
    font = cjk_font_name()
    title = ParagraphStyle("t", fontName=font, fontSize=18, leading=26, alignment=1)
    body = ParagraphStyle("b", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK")
    small = ParagraphStyle("s", fontName=font, fontSize=8.5, leading=12, wordWrap="CJK",
                           textColor=colors.grey)
    house, landlord, officer = penalty.house, penalty.landlord, penalty.decided_by
    station = db.session.get(Station, penalty.station_id).name
    rows = [
        ("决定编号", f"处罚决定 第 {penalty.id} 号"),
        ("被处罚人", f"{landlord.name}（{landlord.document_masked}）"),
        ("房屋地址", house.address.full_text),
        ("违法行为发生日期", local_date(penalty.offence_date)),
        ("违法事实", penalty.note or "房屋出租人不按规定登记承租人信息"),
        ("处罚依据", penalty.legal_citation or penalty.legal_basis),
        ("处罚结果", sanction_label(penalty)),
        ("决定民警", f"{officer.name}（警号 {officer.badge_number}）"),
        ("决定时间", f"{to_local(penalty.decided_at):%Y年%m月%d日 %H:%M}（北京时间）"),
    ]
    table = Table([[Paragraph(k, body), Paragraph(_escape(v), body)] for k, v in rows],
                  colWidths=[34 * mm, 136 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))]))
    basis = legal_basis.by_key(penalty.legal_basis_key)
    scope = f"（{basis.text_scope}）" if basis else ""
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=20 * mm, bottomMargin=18 * mm,
                            title=f"处罚决定记录 第{penalty.id}号", author=station or "安居")
    doc.build([
        Paragraph(_escape(station), ParagraphStyle("o", parent=title, fontSize=13, leading=18)),
        Paragraph("处罚决定记录", title), Spacer(1, 6 * mm), table, Spacer(1, 6 * mm),
        Paragraph(f"所引法律条文：{_escape(penalty.legal_citation or penalty.legal_basis)}"
                  f"{_escape(scope)}", body),
        Paragraph(_escape(penalty.legal_text or ""), body), Spacer(1, 14 * mm),
        Paragraph("决定民警签名：＿＿＿＿＿＿＿＿　　被处罚人签名：＿＿＿＿＿＿＿＿　　日期：＿＿＿＿＿＿", body),
        Spacer(1, 10 * mm),
        Paragraph("本记录由安居系统生成，供存档和打印；以公安机关制作的处罚决定书为准。", small),
    ])
    return out.getvalue()


def _escape(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

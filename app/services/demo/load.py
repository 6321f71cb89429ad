"""Deterministic demo data: one branch, its stations and communities, addresses, houses,
persons, residences, declarations, employers and one officer per role.

Everything is fake but valid-looking (documents pass their checksums). The same seed gives the
same data, except door-plate tokens and officer passwords, which stay unguessable.
"""
from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from app import crypto
from app.extensions import db
from app.fakedata import FakeData
from app.models import (
    Address,
    Alert,
    Branch,
    Community,
    ControlTask,
    Declaration,
    DeclarationEvent,
    Employer,
    Employment,
    House,
    Officer,
    Person,
    PoliceArea,
    Reminder,
    Residence,
    Station,
    Watch,
    WeChatUser,
    utcnow,
)
from app.models.address import new_qr_token
from app.services.police.checklist import active_templates
from app.services.errors import RuleError
from app.services.accounts.officers import create_officer
from app.services.declarations.pledge import current_pledge

BRANCH_REGION = "350206"  # the demo branch's district code: 户籍 here is local, not floating
STATIONS = ["东城派出所", "西湖派出所", "南山派出所"]
COMMUNITIES = [
    "安泰社区", "和平社区", "幸福里社区", "兴业社区", "文明社区", "长乐社区", "福安社区",
    "新华社区", "春晖社区", "海滨社区", "明珠社区", "祥和社区", "金桥社区", "翠湖社区",
    "康宁社区", "瑞景社区", "东风社区", "建设社区", "民安社区", "锦绣社区",
]
ROADS = ["安居路", "和谐路", "兴业路", "文明路", "长青路", "振兴路", "前进路", "光明路", "滨海路",
         "湖滨路", "建设路", "育才路"]
RENTAL_TYPES = ["whole"] * 5 + ["shared"] * 3 + ["daily", "online", "dormitory"]
FOREIGN_NATIONALITIES = ["USA", "KOR", "JPN", "GBR", "DEU", "FRA", "RUS", "THA", "VNM", "MYS"]
RELATIONS = ["承租人", "承租人", "承租人", "同住人", "家属"]
ROLE_ACCOUNTS = [
    ("officer", "minjing", "王警官", "民警"),
    ("station_admin", "suozhang", "李所长", "派出所管理员"),
    ("branch_admin", "fenju", "陈主任", "分局管理员"),
    ("system_admin", "admin", "系统管理员", "系统管理员"),
]


@dataclass
class DemoResult:
    counts: dict = field(default_factory=dict)
    passwords: dict = field(default_factory=dict)
    skipped: bool = False
    # Declarations left in "received", as submissions arriving in bulk are: the caller queues
    # them for batch validation (workers.jobs.enqueue_validation_batches) before committing.
    received_ids: list = field(default_factory=list)

    def summary(self) -> str:
        """What was loaded, and the officer passwords (shown this once only)."""
        if self.skipped:
            return "demo data already loaded; nothing changed"
        lines = ["demo data loaded:"]
        lines += [f"  {name}: {count}" for name, count in self.counts.items()]
        lines.append("officer accounts (passwords are shown only now; they are not stored anywhere):")
        lines += [f"  {role:<14} {username:<10} {password}"
                  for role, (username, password) in self.passwords.items()]
        return "\n".join(lines)


def _counts() -> dict:
    models = {"branches": Branch, "stations": Station, "police_areas": PoliceArea,
              "communities": Community, "addresses": Address, "houses": House,
              "persons": Person, "residences": Residence, "declarations": Declaration,
              "employers": Employer, "employments": Employment, "officers": Officer,
              "wechat_users": WeChatUser, "watch_list": Watch, "control_tasks": ControlTask,
              "alerts": Alert}
    return {name: db.session.execute(select(func.count()).select_from(m)).scalar_one()
            for name, m in models.items()}


def _ids_by_code(codes: list[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for i in range(0, len(codes), 1000):
        chunk = codes[i:i + 1000]
        result.update(db.session.execute(
            select(Address.code, Address.id).where(Address.code.in_(chunk))).all())
    return result


def _bulk(model, rows: list[dict], batch: int = 2000) -> None:
    for i in range(0, len(rows), batch):
        db.session.execute(insert(model), rows[i:i + batch])


def _receipt_code(rng: random.Random, used: set[str]) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O/1/I: read aloud over the phone
    while True:
        code = "".join(rng.choice(alphabet) for _ in range(8))
        if code not in used:
            used.add(code)
            return code


def _moved_without_move_out(rng: random.Random, houses: list, used_codes: set[str],
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
            receipt_code=_receipt_code(rng, used_codes),
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


def load_demo_data(seed: int, scale: float = 1.0, if_empty: bool = False,
                   today: date | None = None) -> DemoResult:
    """Create the demo district; the caller commits. With if_empty, do nothing if already loaded."""
    if if_empty and db.session.execute(select(Branch.id).limit(1)).first():
        return DemoResult(skipped=True)
    rng = random.Random(seed)
    fake = FakeData(seed)
    today = today or date.today()
    now = utcnow()
    result = DemoResult()

    # Jurisdiction: 1 branch → 3 stations → 2 police areas each → ~20 communities.
    branch = Branch(code="DEMO-B", name="安居示范分局", region_code=BRANCH_REGION)
    db.session.add(branch)
    db.session.flush()
    stations, areas, communities = [], [], []
    for s_index, s_name in enumerate(STATIONS, 1):
        station = Station(branch_id=branch.id, code=f"DEMO-S{s_index}", name=s_name)
        db.session.add(station)
        db.session.flush()
        stations.append(station)
        for a_index in (1, 2):
            area = PoliceArea(station_id=station.id, code=f"DEMO-S{s_index}-A{a_index}",
                              name=f"{s_name[:2]}第{a_index}警务区")
            db.session.add(area)
            db.session.flush()
            areas.append(area)
    n_communities = max(1, round(len(COMMUNITIES) * min(scale, 1.0)))
    for c_index, c_name in enumerate(COMMUNITIES[:n_communities], 1):
        area = areas[(c_index - 1) % len(areas)]
        community = Community(police_area_id=area.id, station_id=area.station_id,
                              code=f"DEMO-C{c_index:02d}", name=c_name)
        db.session.add(community)
        communities.append(community)
    db.session.flush()

    # Addresses: per community 5 buildings × 2 units × 8 floors × 6 rooms ≈ 10,000 at scale 1.
    buildings_per = max(1, round(5 * min(scale * 2, 1.0))) if scale < 0.5 else 5
    floors = max(2, round(8 * min(scale, 1.0) ** 0.5)) if scale < 1 else 8
    common = dict(status="active", is_residential=True, created_at=now, updated_at=now)
    level_rows: dict[str, list[dict]] = {"building": [], "unit": [], "room": []}
    parents: dict[str, str] = {}
    for community in communities:
        road = rng.choice(ROADS)
        base_number = rng.randint(1, 300)
        for b in range(1, buildings_per + 1):
            number = f"{base_number + b * 2}号"
            b_code = f"{community.code}-{b:02d}"
            where = dict(community_id=community.id, police_area_id=community.police_area_id,
                         station_id=community.station_id, road=road, number=number,
                         building=f"{b}幢")
            plate = now - timedelta(days=rng.randint(1, 300)) if rng.random() < 0.85 else None
            level_rows["building"].append(dict(
                common, **where, code=b_code, level="building", qr_token=new_qr_token(),
                full_text=f"{road}{number}{b}幢", plate_issued_at=plate,
                aliases=None, lat=24.48 + rng.random() / 20, lng=118.08 + rng.random() / 20))
            for u in (1, 2):
                u_code = f"{b_code}-{u}"
                parents[u_code] = b_code
                level_rows["unit"].append(dict(
                    common, **where, code=u_code, level="unit", unit=f"{u}单元",
                    qr_token=new_qr_token(), full_text=f"{road}{number}{b}幢{u}单元",
                    plate_issued_at=plate, aliases=None))
                for floor in range(1, floors + 1):
                    for room in range(1, 7):
                        r_code = f"{u_code}-{floor}{room:02d}"
                        parents[r_code] = u_code
                        level_rows["room"].append(dict(
                            common, **where, code=r_code, level="room", unit=f"{u}单元",
                            floor=str(floor), room=f"{floor}{room:02d}室",
                            qr_token=new_qr_token(),
                            full_text=f"{road}{number}{b}幢{u}单元{floor}{room:02d}室",
                            plate_issued_at=plate if rng.random() < 0.95 else None,
                            aliases=None))
    code_to_id: dict[str, int] = {}
    for level in ("building", "unit", "room"):
        rows = level_rows[level]
        for row in rows:
            if row["code"] in parents:
                row["parent_id"] = code_to_id[parents[row["code"]]]
            # JSONText is applied by the ORM insert; None stays NULL.
        _bulk(Address, rows)
        code_to_id.update(_ids_by_code([r["code"] for r in rows]))
    room_rows = level_rows["room"]

    # Persons: landlords (mostly local 户籍) and tenants (mostly floating).
    n_houses = min(len(room_rows), round(2000 * scale))
    n_landlords = max(1, round(n_houses * 0.7))
    n_tenants = max(1, round(5000 * scale) - n_landlords)
    person_rows, person_docs = [], set()

    def add_person(doc_type: str, number: str, name: str, nationality: str, region: str | None,
                   birth: date | None, sex: str | None) -> None:
        key = (doc_type, number)
        if key in person_docs:
            return
        person_docs.add(key)
        enc, blind, masked = crypto.protect_document(doc_type, number)
        phone = fake.mobile()
        p_enc, p_blind, p_masked = crypto.protect_phone(phone)
        person_rows.append(dict(
            document_type=doc_type, document_number_enc=enc, document_blind_index=blind,
            document_masked=masked, name=name, sex=sex, birth_date=birth,
            household_region_code=region, nationality=nationality, phone_enc=p_enc,
            phone_blind_index=p_blind, phone_masked=p_masked,
            is_floating=not (doc_type == "resident_id" and region == BRANCH_REGION),
            collected_at=now, collected_by_type="demo", collected_channel="demo",
            created_at=now, updated_at=now))

    def resident(local_share: float) -> None:
        sex = rng.choice("MF")
        region = BRANCH_REGION if rng.random() < local_share else None
        number = fake.resident_id(region_code=region, sex=sex)
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        add_person("resident_id", number, fake.name(sex=sex), "CHN", number[:6], birth, sex)

    for _ in range(n_landlords):
        resident(local_share=0.8)
    landlord_count = len(person_rows)
    while len(person_rows) < landlord_count + n_tenants:
        roll = rng.random()
        if roll < 0.90:
            resident(local_share=0.1)
        elif roll < 0.94:
            add_person("hmt_permit", fake.hmt_permit(), fake.name(), "CHN", None, None, None)
        elif roll < 0.97:
            add_person("foreign_pr", fake.foreign_pr(), fake.foreign_name(),
                       rng.choice(FOREIGN_NATIONALITIES), None, None, None)
        else:
            add_person("passport", fake.passport(), fake.foreign_name(),
                       rng.choice(FOREIGN_NATIONALITIES), None, None, None)
    _bulk(Person, person_rows)
    person_ids = list(db.session.execute(select(Person.id).order_by(Person.id)).scalars())
    landlord_ids, tenant_ids = person_ids[:landlord_count], person_ids[landlord_count:]

    # WeChat users for about half the landlords (they declared through the official account).
    wechat_rows, landlord_wechat = [], {}
    for pid in landlord_ids:
        if rng.random() < 0.5:
            openid = "o" + "".join(rng.choice(string.ascii_letters + string.digits + "-_")
                                   for _ in range(27))
            wechat_rows.append(dict(openid=openid, source="official_account", subscribed=True,
                                    subscribed_at=now - timedelta(days=rng.randint(1, 200)),
                                    last_seen_at=now - timedelta(days=rng.randint(0, 30)),
                                    person_id=pid, person_link_method="real_name",
                                    person_linked_at=now, created_at=now, updated_at=now))
    _bulk(WeChatUser, wechat_rows)
    for wid, pid in db.session.execute(select(WeChatUser.id, WeChatUser.person_id)):
        landlord_wechat[pid] = wid

    # Houses at random room addresses; most are rentals, most rentals have signed the pledge.
    pledge = current_pledge()
    house_rows = []
    for i, row in enumerate(rng.sample(room_rows, n_houses)):
        owner = landlord_ids[i % len(landlord_ids)]
        is_rental = rng.random() < 0.8
        signed = is_rental and rng.random() < 0.75
        house_rows.append(dict(
            address_id=code_to_id[row["code"]], station_id=row["station_id"],
            police_area_id=row["police_area_id"], owner_person_id=owner,
            owner_wechat_user_id=landlord_wechat.get(owner), is_rental=is_rental,
            rental_type=rng.choice(RENTAL_TYPES) if is_rental else None,
            rooms=rng.randint(1, 4), area_m2=Decimal(rng.randint(30, 140)),
            monthly_rent=Decimal(rng.randrange(800, 6000, 100)) if is_rental else None,
            pledge_version_id=pledge.id if signed else None,
            pledge_signer_name=None, pledge_signed_at=now - timedelta(days=rng.randint(1, 300))
            if signed else None, pledge_ip="127.0.0.1" if signed else None,
            is_vacant=is_rental and rng.random() < 0.05,
            last_confirmed_at=now - timedelta(days=rng.randint(0, 60)) if is_rental else None,
            status="active", collected_at=now, collected_by_type="demo", collected_channel="demo",
            created_at=now, updated_at=now))
    _bulk(House, house_rows)
    houses = db.session.execute(
        select(House.id, House.rooms, House.station_id, House.police_area_id, House.address_id,
               House.owner_wechat_user_id)
        .where(House.is_rental.is_(True), House.is_vacant.is_(False)).order_by(House.id)
    ).all()

    # Residences, each with the move-in declaration that proposed it.
    used_codes: set[str] = set()
    residence_rows, declaration_rows = [], []
    tenants = list(tenant_ids)
    rng.shuffle(tenants)
    house_cycle = 0
    while tenants and houses:
        house = houses[house_cycle % len(houses)]
        house_cycle += 1
        for _ in range(rng.randint(1, max(1, house.rooms))):
            if not tenants:
                break
            pid = tenants.pop()
            start = today - timedelta(days=rng.randint(1, 700))
            ended = rng.random() < 0.15
            end = start + timedelta(days=rng.randint(30, 300)) if ended else None
            if end and end >= today:
                end, ended = None, False
            late_days = rng.choice([0] * 8 + [1, 5])
            submitted = datetime.combine(start, datetime.min.time()) + timedelta(
                days=late_days, hours=rng.randint(8, 20))
            status = rng.choices(["approved", "verified", "needs_review", "flagged", "rejected",
                                  "received"], weights=[60, 25, 8, 4, 3, 3])[0]
            reasons = ([{"field": "document_number", "message": "证件号码需人工核对"}]
                       if status == "needs_review" else None)
            declaration_rows.append(dict(
                kind="move_in", status=status, submitter_role="landlord",
                submitter_wechat_user_id=house.owner_wechat_user_id, channel="wechat_h5",
                receipt_code=_receipt_code(rng, used_codes),
                payload={"house_id": house.id, "person_id": pid, "start_date": start.isoformat(),
                         "tenants": [{"person_id": pid, "start_date": start.isoformat()}]},
                reasons=reasons, address_id=house.address_id, house_id=house.id,
                station_id=house.station_id, police_area_id=house.police_area_id,
                is_late=late_days > 3, late_hours=late_days * 24 if late_days > 3 else None,
                decision_reason="证件照片与本人不符，请重新申报" if status == "rejected" else None,
                created_at=submitted, updated_at=submitted))
            residence_rows.append(dict(
                person_id=pid, house_id=house.id, room=None, start_date=start, end_date=end,
                declared_by="landlord", channel="wechat_h5",
                status="ended" if ended else ("active" if status in ("approved", "verified")
                                              else "pending"),
                active_slot=None if ended else 1,
                relation_to_landlord=rng.choice(RELATIONS), collected_at=submitted,
                collected_by_type="landlord", collected_channel="wechat_h5",
                created_at=submitted, updated_at=submitted))
    _bulk(Declaration, declaration_rows)
    declaration_ids = {code: did for code, did in db.session.execute(
        select(Declaration.receipt_code, Declaration.id))}
    event_rows = []
    for row, res in zip(declaration_rows, residence_rows):
        did = declaration_ids[row["receipt_code"]]
        res["declaration_id"] = did
        at = row["created_at"]
        event_rows.append(dict(declaration_id=did, from_status=None, to_status="received",
                               actor="landlord", note=None, at=at))
        final = row["status"]
        if final == "received":
            result.received_ids.append(did)
            continue
        middle = "needs_review" if final in ("approved", "flagged", "rejected") else final
        event_rows.append(dict(declaration_id=did, from_status="received", to_status=middle,
                               actor="worker", note=None, at=at + timedelta(seconds=3)))
        if middle != final:
            event_rows.append(dict(declaration_id=did, from_status=middle, to_status=final,
                                   actor="officer", note=row["decision_reason"],
                                   at=at + timedelta(hours=rng.randint(1, 48))))
    _bulk(DeclarationEvent, event_rows)
    _bulk(Residence, residence_rows)
    _moved_without_move_out(rng, houses, used_codes, now, round(6 * min(scale * 4, 1.0)) or 1)

    # Employers at building addresses, with some tenants employed there.
    employer_rows = []
    buildings = level_rows["building"]
    for _ in range(max(1, round(8 * min(scale * 4, 1.0)))):
        b = rng.choice(buildings)
        c_enc, c_blind, c_masked = crypto.protect_phone(fake.mobile())
        employer_rows.append(dict(
            name=fake.company_name(), uscc=fake.uscc(), address_id=code_to_id[b["code"]],
            station_id=b["station_id"], police_area_id=b["police_area_id"],
            contact_name=fake.name(), contact_phone_enc=c_enc,
            contact_phone_blind_index=c_blind, contact_phone_masked=c_masked, status="active",
            collected_at=now, collected_by_type="demo", collected_channel="demo",
            created_at=now, updated_at=now))
    _bulk(Employer, employer_rows)
    employer_ids = list(db.session.execute(select(Employer.id)).scalars())
    employment_rows = [
        dict(person_id=pid, employer_id=rng.choice(employer_ids),
             start_date=today - timedelta(days=rng.randint(10, 500)), job=rng.choice(
                 ["普工", "厨师", "保安", "快递员", "店员", "司机"]),
             status="active", active_slot=1, collected_at=now, collected_by_type="demo",
             collected_channel="demo", created_at=now, updated_at=now)
        for pid in rng.sample(tenant_ids, min(len(tenant_ids), round(150 * scale) or 1))
    ]
    _bulk(Employment, employment_rows)

    # One officer per role, with random passwords shown once.
    active_templates()
    for i, (role, username, name, _label) in enumerate(ROLE_ACCOUNTS, 1):
        password = secrets.token_urlsafe(9)
        create_officer(username=username, password=password, name=name,
                       badge_number=f"DEMO{i:04d}", role=role, branch_id=branch.id,
                       station_id=stations[0].id if role in ("officer", "station_admin") else None,
                       police_area_id=areas[0].id if role == "officer" else None)
        result.passwords[role] = (username, password)

    db.session.flush()
    _demo_field_work(rng, areas[0].id, now)
    result.received_ids += _demo_spot_checks(rng, areas[0].id, now)
    result.counts = _counts()
    return result


WATCH_CATEGORIES = ["重点人员", "涉毒人员", "前科人员", "在逃人员"]


def _demo_field_work(rng: random.Random, area_id: int, now: datetime) -> None:
    """A watch list with hits (mostly in the demo officer's area), control tasks open and
    overdue, a few items done with GPS, and the alerts they raise."""
    from app.services.police import tasks as task_service

    live = db.session.execute(
        select(Person).join(Residence, Residence.person_id == Person.id)
        .join(House, House.id == Residence.house_id)
        .where(Residence.status == "active", House.police_area_id == area_id)
        .order_by(Person.id).limit(60)).scalars().all()
    elsewhere = db.session.execute(
        select(Person).join(Residence, Residence.person_id == Person.id)
        .join(House, House.id == Residence.house_id)
        .where(Residence.status == "active", House.police_area_id != area_id)
        .order_by(Person.id).limit(60)).scalars().all()
    chosen = rng.sample(live, min(6, len(live))) + rng.sample(elsewhere, min(3, len(elsewhere)))
    officer = db.session.execute(select(Officer).where(Officer.role == "officer")).scalar()
    for n, person in enumerate(chosen):
        # Listed 2, 5 or 10 days ago: the last are overdue (items are due in 7 days).
        listed = now - timedelta(days=(2, 5, 10)[n % 3], hours=rng.randint(0, 20))
        watch = Watch(document_type=person.document_type,
                      document_blind_index=person.document_blind_index, name=person.name,
                      category=rng.choice(WATCH_CATEGORIES), source="市局下发（演示）",
                      listed_at=listed, list_reason="演示数据")
        db.session.add(watch)
        db.session.flush()
        created = task_service.match_watch(watch, now=listed)
        if n % 3 == 1 and created and officer is not None \
                and created[0].police_area_id == officer.police_area_id:
            for item in created[0].checklist[:2]:
                task_service.complete_item(
                    created[0], item["key"], officer, lat=24.48 + rng.random() / 100,
                    lng=118.09 + rng.random() / 100, note="演示：已上门", channel="field",
                    now=listed + timedelta(days=1))
    for _ in range(3):  # listed persons not (yet) living or working in the district
        db.session.add(Watch(document_type="resident_id",
                             document_blind_index=crypto.blind_index(
                                 "doc:resident_id", FakeData(rng.randint(1, 10**6)).resident_id()),
                             name=FakeData(rng.randint(1, 10**6)).name(),
                             category=rng.choice(WATCH_CATEGORIES), source="市局下发（演示）",
                             listed_at=now - timedelta(days=20)))
    db.session.flush()
    task_service.sweep_overdue(now)


def _demo_spot_checks(rng: random.Random, area_id: int, now: datetime) -> list[int]:
    """A seeded spot-check plan in the demo officer's area: some houses still to check, some
    checked, with registered residents and a few unregistered persons (漏登 and alerts); returns
    the ids of the declarations collected on site, for batch validation."""
    from app.services.police import spot_checks

    admin = db.session.execute(select(Officer).where(Officer.role == "station_admin")).scalar()
    officer = db.session.execute(select(Officer).where(Officer.role == "officer")).scalar()
    if admin is None or officer is None:
        return []
    try:
        plan = spot_checks.create_plan(admin, size=8, officers=[officer],
                                       police_area_id=area_id, seed=rng.randint(1, 10**6),
                                       note="演示抽查计划")
    except RuleError:
        return []
    collected: list[int] = []
    fake = FakeData(rng.randint(1, 10**6))
    for n, item in enumerate(plan.items[:4]):
        found = [{"document_type": p.document_type, "name": p.name, "room": r.room,
                  "document_number": crypto.decrypt(p.document_number_enc)}
                 for r, p in db.session.execute(
                     select(Residence, Person).join(Person, Person.id == Residence.person_id)
                     .where(Residence.house_id == item.house_id, Residence.status == "active",
                            Residence.active_slot.is_not(None))
                     .order_by(Residence.id).limit(2)).all()]
        if n % 2 == 0 or not found:  # someone living there who was never declared
            found.append({"document_type": "resident_id", "document_number": fake.resident_id(),
                          "name": fake.name(), "room": f"{rng.randint(1, 6)}0{rng.randint(1, 4)}"})
        house = db.session.get(House, item.house_id)
        check = spot_checks.record_spot_check(
            officer, house, found, lat=24.48 + rng.random() / 100,
            lng=118.09 + rng.random() / 100, plan_item=item, note="演示：现场抽查",
            validate_now=False)
        collected += [row.declaration_id for row in check.persons if row.declaration_id]
    db.session.flush()
    return collected

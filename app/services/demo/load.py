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

from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.fakedata import FakeData
from app.models import (
    Address,
    Branch,
    Community,
    Declaration,
    DeclarationEvent,
    Employer,
    Employment,
    House,
    Person,
    PoliceArea,
    Residence,
    Station,
    WeChatUser,
    utcnow,
)
from app.models.address import new_qr_token
from app.services.accounts.officers import create_officer
from app.services.declarations.pledge import current_pledge
from app.services.demo.fieldwork import demo_field_work, demo_spot_checks
from app.services.demo.rows import (
    bulk_insert, ids_by_code, moved_without_move_out, receipt_code, table_counts,
)
from app.services.police.checklist import active_templates

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
        bulk_insert(Address, rows)
        code_to_id.update(ids_by_code([r["code"] for r in rows]))
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
    bulk_insert(Person, person_rows)
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
    bulk_insert(WeChatUser, wechat_rows)
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
    bulk_insert(House, house_rows)
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
                receipt_code=receipt_code(rng, used_codes),
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
    bulk_insert(Declaration, declaration_rows)
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
    bulk_insert(DeclarationEvent, event_rows)
    bulk_insert(Residence, residence_rows)
    moved_without_move_out(rng, houses, used_codes, now, round(6 * min(scale * 4, 1.0)) or 1)

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
    bulk_insert(Employer, employer_rows)
    employer_ids = list(db.session.execute(select(Employer.id)).scalars())
    employment_rows = [
        dict(person_id=pid, employer_id=rng.choice(employer_ids),
             start_date=today - timedelta(days=rng.randint(10, 500)), job=rng.choice(
                 ["普工", "厨师", "保安", "快递员", "店员", "司机"]),
             status="active", active_slot=1, collected_at=now, collected_by_type="demo",
             collected_channel="demo", created_at=now, updated_at=now)
        for pid in rng.sample(tenant_ids, min(len(tenant_ids), round(150 * scale) or 1))
    ]
    bulk_insert(Employment, employment_rows)

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
    demo_field_work(rng, areas[0].id, now)
    result.received_ids += demo_spot_checks(rng, areas[0].id, now)
    result.counts = table_counts()
    return result

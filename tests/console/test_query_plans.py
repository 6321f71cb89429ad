"""EXPLAIN on MariaDB (pass 2): every filter of the review queue and every console search reads
an index, never the whole table (docs/PERFORMANCE.md, bench/console.py). Skipped on SQLite.

The tables get a few thousand rows and fresh statistics first, so the optimizer chooses as it
would on a real city's data rather than scanning a table of ten rows."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from app import crypto
from app.extensions import db
from app.models import Address, Declaration, House, Person, Residence
from app.services.declarations import queue
from app.services.accounts import scoping
from app.services.people import search

QUEUE_INDEXES = {"ix_declaration_station_status_created", "ix_declaration_status_created",
                 "ix_declaration_station_kind_status", "ix_declaration_station_late_status",
                 # (status, updated_at): as good a start as (status, created_at) when the rows
                 # are sorted anyway ("逾期最久" across a branch).
                 "ix_declaration_status_updated"}
FILTERS = {
    "pending": {},
    "one status": {"status": "needs_review"},
    "all statuses": {"status": "all"},
    "kind": {"kind": "self"},
    "age": {"age": "7"},
    "late": {"late": "1"},
    "sort newest": {"sort": "newest"},
    "sort late": {"sort": "late"},
}


@pytest.fixture()
def city(mariadb_only, world):
    """3,000 addresses, houses, persons, residences and 6,000 declarations in stations A and B."""
    rng = random.Random(7)
    now = datetime(2026, 11, 30)
    areas = [world.a.jurisdiction, world.b.jurisdiction]
    addresses, houses, persons, residences, declarations = [], [], [], [], []
    for i in range(3000):
        j = areas[i % 2]
        addresses.append({"code": f"QP{i:06d}", "level": "room", "status": "active",
                          "community_id": j["community"].id, "station_id": j["station"].id,
                          "police_area_id": j["police_area"].id, "road": "计划路",
                          "full_text": f"计划路{i // 100}号{i % 100}室", "is_residential": True,
                          "created_at": now, "updated_at": now})
    db.session.execute(Address.__table__.insert(), addresses)
    ids = db.session.execute(text("SELECT id, station_id, police_area_id FROM address "
                                  "WHERE code LIKE 'QP%' ORDER BY id")).all()
    for i, (address_id, station_id, area_id) in enumerate(ids):
        houses.append({"address_id": address_id, "station_id": station_id,
                       "police_area_id": area_id, "is_rental": True, "status": "active",
                       "is_vacant": False, "created_at": now, "updated_at": now})
        enc, blind, masked = crypto.protect_document("resident_id", f"Q{i:08d}")
        phone_enc, phone_blind, phone_masked = crypto.protect_phone(f"154{i:08d}")
        persons.append({"document_type": "resident_id", "document_number_enc": enc,
                        "document_blind_index": blind, "document_masked": masked,
                        "name": rng.choice("王李张刘陈") + f"{i}", "nationality": "CHN",
                        "phone_enc": phone_enc, "phone_blind_index": phone_blind,
                        "phone_masked": phone_masked, "is_floating": True,
                        "created_at": now, "updated_at": now})
    db.session.execute(House.__table__.insert(), houses)
    db.session.execute(Person.__table__.insert(), persons)
    house_ids = db.session.execute(text("SELECT h.id FROM house h JOIN address a ON "
                                        "a.id = h.address_id WHERE a.code LIKE 'QP%' "
                                        "ORDER BY h.id")).scalars().all()
    person_ids = db.session.execute(text("SELECT id FROM person WHERE name REGEXP '[0-9]' "
                                         "ORDER BY id")).scalars().all()
    for house_id, person_id in zip(house_ids, person_ids):
        residences.append({"person_id": person_id, "house_id": house_id, "status": "active",
                           "start_date": now.date(), "declared_by": "landlord",
                           "channel": "import", "active_slot": 1, "created_at": now,
                           "updated_at": now})
    db.session.execute(Residence.__table__.insert(), residences)
    for i in range(6000):
        address_id, station_id, area_id = ids[i % len(ids)]
        late = rng.random() < 0.1
        declarations.append({
            "kind": rng.choice(("move_in", "move_in", "house", "self")),
            "status": rng.choice(("approved", "approved", "verified", "needs_review",
                                  "flagged", "rejected")),
            "submitter_role": "landlord", "channel": "import", "receipt_code": f"QP{i:08d}",
            "payload": {}, "address_id": address_id, "station_id": station_id,
            "police_area_id": area_id, "is_late": late,
            "late_hours": rng.randint(25, 90) if late else None,
            "created_at": now - timedelta(minutes=rng.randint(0, 200_000)), "updated_at": now})
    db.session.execute(Declaration.__table__.insert(), declarations)
    db.session.commit()
    for table in ("address", "house", "person", "residence", "declaration"):
        db.session.execute(text(f"ANALYZE TABLE {table}"))
    db.session.commit()
    return world


def explain(stmt) -> list[dict]:
    compiled = stmt.compile(dialect=db.engine.dialect,
                            compile_kwargs={"render_postcompile": True})
    rows = db.session.connection().exec_driver_sql(
        "EXPLAIN " + str(compiled), compiled.params).mappings().all()
    return [dict(r) for r in rows]


def no_full_scan(plan: list[dict]) -> None:
    for row in plan:
        assert row["type"] != "ALL", f"full scan of {row['table']}: {plan}"


@pytest.mark.parametrize("role", ["station_admin_a", "branch_admin"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_every_queue_filter_reads_a_queue_index(city, role, name):
    officer = city.officers[role]
    filters = queue.parse_filters(FILTERS[name])
    for stmt in queue.page_statements(filters, officer):
        plan = explain(stmt)
        no_full_scan(plan)
        used = {row["key"] for row in plan if row["table"] == "declaration"}
        assert used <= QUEUE_INDEXES and used, plan
        # One station: read in page order, no sort of the rows — except for "逾期最久", whose
        # late rows (8 % in bench/console.py) are sorted by late_hours.
        if role == "station_admin_a" and name != "sort late":
            assert not any("filesort" in (row["Extra"] or "") for row in plan), plan


@pytest.mark.parametrize("role", ["station_admin_a", "branch_admin"])
def test_the_community_filter_reads_the_community_index(city, role):
    officer = city.officers[role]
    filters = queue.parse_filters({"community_id": str(city.a.address.community_id)})
    for stmt in queue.page_statements(filters, officer):
        plan = explain(stmt)
        no_full_scan(plan)
        keys = {row["key"] for row in plan}
        assert keys & (QUEUE_INDEXES | {"ix_address_community_level",
                                        "ix_address_community_text"}), plan


@pytest.mark.parametrize("role", ["station_admin_a", "branch_admin"])
@pytest.mark.parametrize("kind,query,index", [
    ("document", "Q00000042", "uq_person_document_type_document_blind_index"),
    ("phone", "15400000042", "ix_person_phone_blind_index"),
    ("name", "王", "ix_person_name"),
])
def test_person_searches_read_their_index(city, role, kind, query, index):
    plan = explain(search.person_statement(kind, query, city.officers[role]))
    no_full_scan(plan)
    person = [row for row in plan if row["table"] == "person"]
    assert person and person[0]["key"] == index, plan


@pytest.mark.parametrize("role", ["station_admin_a", "branch_admin"])
def test_address_prefix_search_reads_the_full_text_index(city, role):
    stmts = search.address_statements("计划路12号", city.officers[role])
    plan = explain(stmts["prefix"].order_by(Address.full_text).limit(200))
    no_full_scan(plan)
    assert plan[0]["key"] == "ix_address_station_text" and plan[0]["type"] == "range", plan


def test_address_list_of_a_community_reads_it_in_order(city):
    # The query of /console/addresses?community_id= (app/console/addresses.py).
    stmt = scoping.scope_addresses(select(Address).where(
        Address.community_id == city.a.address.community_id), city.officers["branch_admin"])
    plan = explain(stmt.order_by(Address.full_text, Address.id).limit(101))
    no_full_scan(plan)
    assert plan[0]["key"] in ("ix_address_community_text", "ix_address_station_text"), plan

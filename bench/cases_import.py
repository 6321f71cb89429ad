"""Benchmark: the case-person import (`flask cases import`, 案前比对) — first import, re-run.

    .venv/bin/python bench/cases_import.py [--quick] [--rows N] [--database-url URL]

Runs against its own database (default BENCH_DATABASE_URL or
mysql+pymysql://root@127.0.0.1/anju_bench_cases?charset=utf8mb4), which it creates if missing and
migrates. Half the case persons are registered in the district before the case (a declared
residence covering the case date), a quarter declared only after it, a quarter not at all; the
misses of floating persons become 漏登 tasks with alerts. Removes its rows before and after.
Human lines first, then one JSON object with the figures on the last line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, make_app  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1/anju_bench_cases?charset=utf8mb4"
PREFIX = "BENCH-CC"  # every jurisdiction code and case number this bench owns starts with it
CASE_DAY = date(2026, 11, 20)
HEADER = "证件类型,证件号码,姓名,案件编号,案发日期,案发地派出所代码,是否流动人口\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 rows, under 60 s")
    parser.add_argument("--rows", type=int, default=None, help="case rows (default 10,000)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    if args.rows is None:
        args.rows = 1_000 if args.quick else 10_000
    return args


def cleanup() -> None:
    """Remove every row this bench made (its jurisdiction and everything hung on it)."""
    from sqlalchemy import delete, select

    from app.extensions import db
    from app.models import (
        Address, Alert, Branch, CaseCheck, Community, Declaration, DeclarationEvent, House,
        MissedRegistration, Person, PoliceArea, Residence, Station,
    )

    stations = select(Station.id).where(Station.code.like(f"{PREFIX}-%")).scalar_subquery()
    houses = select(House.id).where(House.station_id.in_(stations)).scalar_subquery()
    misses = select(MissedRegistration.id).where(MissedRegistration.station_id.in_(stations))
    db.session.execute(delete(Alert).where(Alert.object_type == "missed_registration",
                                           Alert.object_id.in_(misses.scalar_subquery())))
    db.session.execute(delete(MissedRegistration).where(
        MissedRegistration.station_id.in_(stations)))
    db.session.execute(delete(CaseCheck).where(CaseCheck.station_id.in_(stations)))
    people = select(Residence.person_id).where(Residence.house_id.in_(houses))
    person_ids = list(db.session.execute(people).scalars())
    decls = select(Declaration.id).where(Declaration.house_id.in_(houses)).scalar_subquery()
    db.session.execute(delete(Residence).where(Residence.house_id.in_(houses)))
    db.session.execute(delete(DeclarationEvent).where(DeclarationEvent.declaration_id.in_(decls)))
    db.session.execute(delete(Declaration).where(Declaration.house_id.in_(houses)))
    for i in range(0, len(person_ids), 1000):
        db.session.execute(delete(Person).where(Person.id.in_(person_ids[i:i + 1000])))
    db.session.execute(delete(House).where(House.station_id.in_(stations)))
    db.session.execute(delete(Address).where(Address.station_id.in_(stations)))
    db.session.execute(delete(Community).where(Community.station_id.in_(stations)))
    db.session.execute(delete(PoliceArea).where(PoliceArea.station_id.in_(stations)))
    db.session.execute(delete(Station).where(Station.code.like(f"{PREFIX}-%")))
    db.session.execute(delete(Branch).where(Branch.code == PREFIX))
    db.session.commit()


def build(rows: int, seed: int) -> tuple[str, str]:
    """The district (two stations, 200 houses), the registrations and the CSV text of the case
    persons; returns (csv text, station code)."""
    from app import crypto
    from app.extensions import db
    from app.fakedata import FakeData
    from app.models import (
        Address, Branch, Community, Declaration, House, Person, PoliceArea, Residence, Station,
    )

    fake = FakeData(seed)
    branch = Branch(code=PREFIX, name="案前比对压测分局", region_code="350299")
    db.session.add(branch)
    db.session.flush()
    houses = []
    for s in range(2):
        station = Station(branch_id=branch.id, code=f"{PREFIX}-S{s}", name=f"压测所{s}")
        db.session.add(station)
        db.session.flush()
        area = PoliceArea(station_id=station.id, code=f"{PREFIX}-A{s}", name=f"压测区{s}")
        db.session.add(area)
        db.session.flush()
        community = Community(police_area_id=area.id, station_id=station.id,
                              code=f"{PREFIX}-C{s}", name=f"压测社区{s}")
        db.session.add(community)
        db.session.flush()
        for h in range(100):
            address = Address(code=f"{PREFIX}-{s}-{h}", level="room", community_id=community.id,
                              police_area_id=area.id, station_id=station.id,
                              full_text=f"压测路{s}{h}号", road="压测路", number=f"{h}号")
            db.session.add(address)
            db.session.flush()
            house = House(address_id=address.id, station_id=station.id,
                          police_area_id=area.id, is_rental=True, rooms=4)
            db.session.add(house)
            houses.append(house)
    db.session.flush()
    lines, code = [], f"{PREFIX}-S0"
    for i in range(rows):
        number = fake.resident_id()
        kind = i % 4  # 0, 1: registered before; 2: declared the day after; 3: never
        if kind < 3:
            enc, blind, masked = crypto.protect_document("resident_id", number)
            person = Person(document_type="resident_id", document_number_enc=enc,
                            document_blind_index=blind, document_masked=masked, name=f"压测{i}")
            db.session.add(person)
            db.session.flush()
            house = houses[i % len(houses)]
            submitted = datetime(2026, 11, 1) if kind < 2 else datetime(2026, 11, 21, 2)
            declaration = Declaration(kind="move_in", status="verified", submitter_role="import",
                                      receipt_code=f"BCC{seed % 1000:03d}{i:08d}", payload={},
                                      house_id=house.id, station_id=house.station_id,
                                      police_area_id=house.police_area_id,
                                      created_at=submitted)
            db.session.add(declaration)
            db.session.flush()
            db.session.add(Residence(person_id=person.id, house_id=house.id,
                                     start_date=date(2026, 10, 1), declared_by="landlord",
                                     status="active", active_slot=1,
                                     declaration_id=declaration.id))
        lines.append(f"居民身份证,{number},压测{i},{PREFIX}-{i // 3},{CASE_DAY},{code},")
        if i % 1000 == 999:
            db.session.commit()
    db.session.commit()
    return HEADER + "\n".join(lines) + "\n", code


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url)
    app = make_app(args.database_url)
    with app.app_context():
        from flask_migrate import upgrade

        from app.extensions import db
        from app.services.police import cases, cases_import

        upgrade()
        cleanup()
        started = time.perf_counter()
        text, _code = build(args.rows, args.seed)
        print(f"built {args.rows} case rows and their registrations in "
              f"{time.perf_counter() - started:.1f} s")
        rows = cases_import.read_rows("bench.csv", text.encode())
        figures = {"rows": args.rows, "database": db.engine.dialect.name,
                   "python": platform.python_version(), "cpus": os.cpu_count()}
        for run in ("first import", "re-run, same file"):
            started = time.perf_counter()
            report = cases.import_rows(rows, config={"BRANCH_REGION_CODES": "350299"},
                                       now=datetime(2026, 11, 25, 2))
            db.session.commit()
            seconds = time.perf_counter() - started
            print(f"{run}: {seconds:.2f} s, {args.rows / seconds:,.0f} rows/s — imported "
                  f"{report.imported}, unchanged {report.unchanged}, 漏登 {report.missed}, "
                  f"errors {report.error_count}")
            figures[run] = {"seconds": round(seconds, 2),
                            "rows_per_s": round(args.rows / seconds),
                            "imported": report.imported, "unchanged": report.unchanged,
                            "missed": report.missed}
        cleanup()
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()

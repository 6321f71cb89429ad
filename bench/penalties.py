"""Benchmark: a penalty decision, a heavy landlord's record (漏登 and penalties with repeats),
and the printable PDF record.

    .venv/bin/python bench/penalties.py [--entries N] [--database-url URL] [--repeat R]

Default: a throw-away SQLite file; give a mysql+pymysql:// URL (its database is created and
migrated, and emptied before the run) to measure MariaDB. One landlord with N 漏登 (default 500)
spread over two years, a penalty on every second one; medians of R runs (default 20). Human lines
first, then one JSON object with the figures on the last line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, make_app  # noqa: E402


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='anju-bench-pen-')}/b.sqlite3"
    ensure_database(url)
    app = make_app(url)
    with app.app_context():
        from flask_migrate import upgrade

        from app.extensions import db
        from app.fakedata import FakeData
        from app.models import House, MissedRegistration
        from app.services.accounts.officers import create_officer
        from app.services.police import penalties
        from bench.validation import empty_all_tables
        from tests.factories import make_address, make_jurisdiction, make_person

        upgrade()
        mysql = db.engine.dialect.name == "mysql"
        if mysql:
            empty_all_tables()  # a SQLite file is new for each run
        j = make_jurisdiction("BPN")
        address = make_address(j["community"], full_text="基准路1号1幢101室")
        landlord = make_person(FakeData(7).resident_id(), name="基准房东")
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True,
                      owner_person_id=landlord.id)
        db.session.add(house)
        officer = create_officer(username="bench_pen", password="Jizhun-mima-2026", name="基准民警",
                                 badge_number="B0001", role="officer", branch_id=j["branch"].id,
                                 station_id=j["station"].id, police_area_id=j["police_area"].id)
        start = datetime(2024, 12, 1, 4)
        for i in range(args.entries):
            found = start + timedelta(days=i * 730 // max(args.entries, 1))
            miss = MissedRegistration(source="spot_check", station_id=house.station_id,
                                      document_type="resident_id", document_blind_index="b" * 64,
                                      deadline=found + timedelta(days=7), house_id=house.id,
                                      landlord_person_id=landlord.id, created_at=found)
            db.session.add(miss)
            db.session.flush()
            if i % 2 == 0:
                penalties.record_penalty(officer, penalties.target_for_missed(miss.id, officer),
                                         landlord_person_id=landlord.id,
                                         offence_date=found.date(), amount_yuan="500")
        db.session.commit()
        record = penalties.landlord_record(landlord, officer)
        target = penalties.target_for_house(house.id, officer)

        def decide():
            penalties.record_penalty(officer, target, landlord_person_id=landlord.id,
                                     offence_date=date(2026, 3, 1), amount_yuan="800")
            db.session.rollback()

        one = penalties.house_penalties(house, officer)[-1]
        figures = {
            "database": db.engine.dialect.name, "entries": len(record.entries),
            "repeats": record.repeats,
            "record_penalty_ms": _median_ms(decide, args.repeat),
            "landlord_record_ms": _median_ms(
                lambda: penalties.landlord_record(landlord, officer), args.repeat),
            "render_pdf_ms": _median_ms(lambda: penalties.render_pdf(one), args.repeat),
            "pdf_bytes": len(penalties.render_pdf(one)),
        }
        if mysql:
            empty_all_tables()
    print(f"{figures['entries']} entries ({figures['repeats']} repeats) on {figures['database']}: "
          f"decide {figures['record_penalty_ms']} ms, landlord record "
          f"{figures['landlord_record_ms']} ms, PDF {figures['render_pdf_ms']} ms "
          f"({figures['pdf_bytes']} bytes), medians of {args.repeat}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    os.environ.setdefault("APP_ENV", "testing")
    main()

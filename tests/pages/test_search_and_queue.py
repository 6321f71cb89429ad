"""Item 15: search takes a 15-digit ID and shows where and how each person lives; the queue
sorts, counts, and opens on what needs the officer first."""
from __future__ import annotations

import re
from datetime import date

from app.extensions import db
from app.models import Residence
from tests.console.helpers import make_declaration, search
from tests.factories import make_person

# A first-generation card: 15 digits, stored upgraded to 18 (born 1988-01-01).
OLD_ID, NEW_ID = "350203880101123", "350203198801011233"


def test_a_15_digit_id_finds_the_person_stored_under_18(as_officer, world):
    person = make_person(NEW_ID, name="老户籍")
    db.session.add(Residence(person_id=person.id, house_id=world.a.house.id, room="101",
                             start_date=date(2026, 5, 1), declared_by="landlord", status="active"))
    db.session.commit()
    html = search(as_officer, OLD_ID).get_data(as_text=True)
    assert f"/console/persons/{person.id}" in html
    assert world.a.address.full_text in html  # the address column
    assert "在住" in html and "2026年5月1日起" in html  # the status column


def test_queue_opens_on_what_needs_the_officer_and_shows_totals(as_officer, world):
    flagged = make_declaration(world.a.address, "flagged")
    db.session.commit()
    html = as_officer.get("/console/declarations").get_data(as_text=True)
    order = re.findall(r'data-status="(\w+)"', html)
    assert order.index("verified") > max(order.index("needs_review"), order.index("flagged"))
    assert flagged.receipt_code in html
    totals = re.search(r'data-testid="queue-totals">([^<]+)<', html).group(1)
    assert totals.startswith("共 3 条") and "核验通过 1 条" in totals


def test_queue_sorts_newest_oldest_and_most_late(as_officer, world):
    from datetime import datetime

    old = make_declaration(world.a.address, "needs_review", created_at=datetime(2026, 1, 1),
                           is_late=True, late_hours=5)
    new = make_declaration(world.a.address, "needs_review", created_at=datetime(2026, 11, 30),
                           is_late=True, late_hours=300)
    db.session.commit()

    def codes(sort):
        html = as_officer.get("/console/declarations", query_string={"sort": sort}).get_data(
            as_text=True)
        return [c for c in re.findall(r">(RC\d{6})<", html) if c in (old.receipt_code,
                                                                    new.receipt_code)]

    assert codes("oldest") == [old.receipt_code, new.receipt_code]
    assert codes("newest") == [new.receipt_code, old.receipt_code]
    assert codes("late") == [new.receipt_code, old.receipt_code]

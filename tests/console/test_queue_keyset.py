"""The review queue's keyset pages (app/services/declarations/queue.py): the rows the old offset pages
showed, in the same order, for every sort and status filter; nothing shown twice or skipped when
declarations arrive between two page loads; "上一页" returns the page before; capped totals."""
from __future__ import annotations

import html as htmllib
import random
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Address, Declaration, Officer
from app.services.declarations import queue
from app.services.accounts import scoping
from tests.console.helpers import make_declaration

STATUSES = ("needs_review", "flagged", "verified", "approved", "rejected", "received")


@pytest.fixture()
def crowd(world):
    """90 declarations in station A: every status, ties on created_at, some late ones."""
    rng = random.Random(17)
    start = datetime(2026, 6, 1)
    made = []
    for i in range(90):
        late = rng.random() < 0.3
        made.append(make_declaration(
            world.a.address, rng.choice(STATUSES),
            # Several share a second: the id orders them, as in the index.
            created_at=start + timedelta(minutes=rng.randint(0, 40)),
            is_late=late, late_hours=rng.randint(25, 60) if late else None))
    db.session.commit()
    return made


def offset_order(filters: dict, officer: Officer) -> list[int]:
    """The queue's order as the offset pages computed it (one query, ORDER BY, no cursor)."""
    stmt = select(Declaration.id).outerjoin(Address, Address.id == Declaration.address_id)
    statuses = queue._statuses(filters)
    stmt = scoping.scope_declarations(stmt.where(Declaration.status.in_(statuses)), officer)
    needs_officer = case((Declaration.status.in_(("needs_review", "flagged")), 0), else_=1)
    order = {
        "urgent": (needs_officer, Declaration.created_at, Declaration.id),
        "oldest": (Declaration.created_at, Declaration.id),
        "newest": (Declaration.created_at.desc(), Declaration.id.desc()),
        "late": (func.coalesce(Declaration.late_hours, -1).desc(), Declaration.created_at,
                 Declaration.id),
    }[filters["sort"]]
    return list(db.session.execute(stmt.order_by(*order)).scalars())


def walk(filters: dict, officer: Officer) -> list[list[int]]:
    """Every page, first to last, following the next cursors."""
    pages, after = [], ""
    for _ in range(100):
        page = queue.queue_page({**filters, "after": after}, officer, db.session)
        pages.append([d.id for d, _ in page.rows])
        if not page.has_next:
            return pages
        after = page.next_cursor
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("sort", list(queue.SORT_CHOICES))
@pytest.mark.parametrize("status", ["pending", "all", "needs_review"])
def test_keyset_pages_show_exactly_the_rows_of_the_offset_pages(crowd, world, monkeypatch,
                                                                 sort, status):
    monkeypatch.setattr(queue, "PER_PAGE", 7)
    officer = world.officers["station_admin_a"]
    filters = queue.parse_filters({"status": status, "sort": sort})
    expected = offset_order(filters, officer)
    pages = walk(filters, officer)
    assert [i for p in pages for i in p] == expected
    assert all(len(p) == 7 for p in pages[:-1])
    # A typed ?page=N (offset) shows the same rows as the N-th keyset page.
    for n in (1, 2, len(pages)):
        jumped = queue.queue_page({**filters, "page": n}, officer, db.session)
        assert [d.id for d, _ in jumped.rows] == pages[n - 1], n


def test_previous_page_is_the_page_before(crowd, world, monkeypatch):
    monkeypatch.setattr(queue, "PER_PAGE", 6)
    officer = world.officers["station_admin_a"]
    filters = queue.parse_filters({"status": "all", "sort": "late"})
    first = queue.queue_page(filters, officer, db.session)
    second = queue.queue_page({**filters, "after": first.next_cursor, "page": 2}, officer,
                              db.session)
    third = queue.queue_page({**filters, "after": second.next_cursor, "page": 3}, officer,
                             db.session)
    back = queue.queue_page({**filters, "before": third.prev_cursor, "page": 2}, officer,
                            db.session)
    assert [d.id for d, _ in back.rows] == [d.id for d, _ in second.rows]
    assert back.has_prev and back.has_next
    start = queue.queue_page({**filters, "before": back.prev_cursor, "page": 1}, officer,
                             db.session)
    assert [d.id for d, _ in start.rows] == [d.id for d, _ in first.rows]
    assert not start.has_prev


def test_declarations_arriving_between_page_loads_shift_nothing(crowd, world, monkeypatch):
    monkeypatch.setattr(queue, "PER_PAGE", 8)
    officer = world.officers["station_admin_a"]
    filters = queue.parse_filters({"sort": "urgent"})
    before = offset_order(filters, officer)
    first = queue.queue_page(filters, officer, db.session)
    # New declarations: some sort before the first page's last row, some after, some on it.
    for minutes in (0, 5, 20, 40, 60):
        for status in ("needs_review", "verified"):
            make_declaration(world.a.address, status,
                             created_at=datetime(2026, 6, 1) + timedelta(minutes=minutes))
    db.session.commit()
    seen = [d.id for d, _ in first.rows]
    after = first.next_cursor
    while after:
        page = queue.queue_page({**filters, "after": after}, officer, db.session)
        seen += [d.id for d, _ in page.rows]
        after = page.next_cursor if page.has_next else None
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(before) <= set(seen)  # nothing skipped
    now = offset_order(filters, officer)
    # After the first page, exactly the rows that now sort after its last row, in order.
    last = now.index(seen[len(first.rows) - 1])
    assert seen[len(first.rows):] == now[last + 1:]


def test_the_links_carry_the_cursor_and_a_bad_cursor_opens_the_first_page(crowd, world,
                                                                          as_officer,
                                                                          monkeypatch):
    monkeypatch.setattr(queue, "PER_PAGE", 10)
    html = as_officer.get("/console/declarations?status=all").get_data(as_text=True)
    link = htmllib.unescape(re.search(r'href="([^"]+)">下一页<', html).group(1))
    assert "after=" in link and "page=2" in link and "status=all" in link
    second = as_officer.get(link).get_data(as_text=True)
    assert "第 2 页" in second
    back = htmllib.unescape(re.search(r'href="([^"]+)">上一页<', second).group(1))
    assert "before=" in back
    first_codes = re.findall(r">(RC\d{6})<", html)
    assert re.findall(r">(RC\d{6})<", as_officer.get(back).get_data(as_text=True)) == first_codes
    for bad in ("xyz", "W10=", "WyJhIl0=", "WzAsIm5vdC1hLWRhdGUiLDFd", "%00"):
        resp = as_officer.get(f"/console/declarations?status=all&after={bad}")
        assert resp.status_code == 200


def test_totals_above_the_cap_say_so(crowd, as_officer, monkeypatch):
    monkeypatch.setattr(queue, "COUNT_CAP", 3)
    html = as_officer.get("/console/declarations?status=all").get_data(as_text=True)
    totals = re.search(r'data-testid="queue-totals">([^<]+)<', html).group(1)
    assert "以上" in totals and "3 条以上" in totals


def test_address_search_lists_prefix_matches_and_falls_back_to_text_inside(world, as_officer):
    from app.services.people import search as search_service
    from tests.factories import make_address

    community = world.a.jurisdiction["community"]
    starts = make_address(community, full_text="前缀路8号1幢1单元101室")
    inside = make_address(community, full_text="新前缀路8号1幢1单元101室")
    db.session.commit()
    officer = world.officers["station_admin_a"]
    found, how = search_service.addresses_matching("前缀路8号", officer)
    assert [a.id for a in found] == [starts.id] and how == "prefix"
    found, how = search_service.addresses_matching("8号1幢1单元101", officer)
    assert {starts.id, inside.id} <= {a.id for a in found} and how == "contains"
    from tests.console.helpers import search

    page = search(as_officer, "前缀路8号", kind="address").get_data(as_text=True)
    assert "列出以“前缀路8号”开头的地址" in page and starts.full_text in page

"""The review queue (审核队列): filters, orderings and keyset pages over the officer's area.

Every ordering the queue offers is a list of *streams*, one per status (and, for "逾期最久",
per late/not-late): each stream is one indexed query, `status = s` plus the filters, read in the
order of the index ix_declaration_station_status_created (station_id, status, created_at) or
ix_declaration_status_created (status, created_at). The streams' first keys (sort columns and
id, read from the index alone) are merged here and only the page's rows are then read, so a page
costs a few index range reads of PER_PAGE + 1 entries and one read of 50 rows, whatever its depth. A page is addressed
by a keyset cursor (the sort key of the row before it, `after`, or after it, `before`), which
the "下一页"/"上一页" links carry; rows inserted between two page loads never shift a page
(no row is shown twice or skipped). A bare `?page=N` (a typed or old link) still answers, by
offset.
"""
from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import defer

from app.models import Address, Community, Declaration, utcnow
from app.models.declaration import KIND_LABELS, STATUS_LABELS
from app.services.accounts import scoping

PER_PAGE = 50
# The "待处理" view: what needs the officer (review, field check) before what only awaits a
# bulk approval.
QUEUE_PENDING = ("needs_review", "flagged", "verified")
NEEDS_OFFICER = ("needs_review", "flagged")
SORT_CHOICES = {"urgent": "需要处理的在前", "newest": "最新提交", "oldest": "最早提交",
                "late": "逾期最久"}
AGE_CHOICES = {"1": "超过 1 天", "3": "超过 3 天", "7": "超过 7 天", "30": "超过 30 天"}
# Totals above this are shown as "1000 条以上": counting a city's whole queue on every page
# load would cost more than the page itself (the home page has the exact counts).
COUNT_CAP = 1_000
MAX_PAGE = 100_000


@dataclass
class Stream:
    """One indexed query of the queue: its filter, its place among the streams, its key."""
    where: object
    rank: int
    keys: list  # [(column, descending)]


@dataclass
class QueuePage:
    rows: list
    page: int
    has_next: bool
    has_prev: bool
    next_cursor: str | None = None
    prev_cursor: str | None = None
    totals: dict = field(default_factory=dict)
    capped: set = field(default_factory=set)  # statuses with more than COUNT_CAP rows
    communities: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def parse_filters(args) -> dict:
    """The queue's filters from query-string arguments (anything unknown means "not filtered")."""
    page = str(args.get("page", "1"))
    return {
        "status": args.get("status", "pending"),
        "kind": args.get("kind", ""),
        "community_id": args.get("community_id", ""),
        "age": args.get("age", ""),
        "late": args.get("late", ""),
        "sort": args.get("sort") if args.get("sort") in SORT_CHOICES else "urgent",
        "page": int(page) if page.isdigit() and 0 < int(page) < MAX_PAGE else 1,
        "after": args.get("after", "")[:200],
        "before": args.get("before", "")[:200],
    }


def _statuses(filters: dict) -> tuple[str, ...]:
    status = filters["status"]
    if status == "pending":
        return QUEUE_PENDING
    if status in STATUS_LABELS:
        return (status,)
    return tuple(STATUS_LABELS)


def _base(filters: dict, officer):
    """The select of queue rows in the area with every filter but the status."""
    # The list shows neither the payload nor the candidates: not read (nor decoded) per row.
    stmt = (select(Declaration, Address.full_text)
            .outerjoin(Address, Address.id == Declaration.address_id)
            .options(defer(Declaration.payload), defer(Declaration.candidates)))
    if filters["kind"] in KIND_LABELS:
        stmt = stmt.where(Declaration.kind == filters["kind"])
    if filters["community_id"].isdigit():
        stmt = stmt.where(Address.community_id == int(filters["community_id"]))
    if filters["age"] in AGE_CHOICES:
        stmt = stmt.where(Declaration.created_at < utcnow() - timedelta(days=int(filters["age"])))
    if filters["late"] == "1":
        stmt = stmt.where(Declaration.is_late.is_(True))
    return scoping.scope_declarations(stmt, officer)


def _streams(filters: dict) -> list[Stream]:
    ascending = [(Declaration.created_at, False), (Declaration.id, False)]
    sort, streams = filters["sort"], []
    for status in _statuses(filters):
        where = Declaration.status == status
        if sort == "urgent":
            streams.append(Stream(where, 0 if status in NEEDS_OFFICER else 1, ascending))
        elif sort == "oldest":
            streams.append(Stream(where, 0, ascending))
        elif sort == "newest":
            streams.append(Stream(where, 0, [(c, True) for c, _ in ascending]))
        else:  # most late first; declarations that were on time after every late one
            streams.append(Stream(and_(where, Declaration.late_hours.is_not(None)), 0,
                                  [(Declaration.late_hours, True), *ascending]))
            streams.append(Stream(and_(where, Declaration.late_hours.is_(None)), 1, ascending))
    return streams


def _row_key(stream: Stream, row) -> list:
    return [stream.rank] + [getattr(row, column.key) for column, _ in stream.keys]


def encode_cursor(key: list) -> str:
    """A row's sort key as an opaque URL-safe token."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode()


def decode_cursor(token: str) -> list | None:
    """The sort key in a cursor, or None when it is not one of ours."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
    except ValueError:
        return None
    if not isinstance(key, list) or not key or not all(
            isinstance(v, (int, str)) and not isinstance(v, bool) for v in key) \
            or not isinstance(key[0], int):
        return None
    return key


def _after(stream: Stream, key: list, backward: bool):
    """WHERE clause: rows of the stream after (backward: before) the key, or None if all are,
    or False if none is."""
    if stream.rank != key[0]:
        return None if (stream.rank > key[0]) != backward else False
    values = key[1:]
    if len(values) != len(stream.keys):
        return False
    try:
        values = [datetime.fromisoformat(v) if column.key == "created_at" else int(v)
                  for (column, _), v in zip(stream.keys, values)]
    except (TypeError, ValueError):
        return False
    clauses = []
    for i, (column, descending) in enumerate(stream.keys):
        later = column < values[i] if descending != backward else column > values[i]
        clauses.append(and_(*[c == v for (c, _), v in zip(stream.keys[:i], values)], later))
    first, descending = stream.keys[0]
    # The leading column's bound on its own, so the index range starts at the cursor.
    bound = first <= values[0] if descending != backward else first >= values[0]
    return and_(bound, or_(*clauses))


def _compare(backward: bool):
    def compare(a, b):
        (ka, sa), (kb, sb) = a, b
        if ka[0] != kb[0]:
            result = -1 if ka[0] < kb[0] else 1
        else:
            result = 0
            for (_, descending), va, vb in zip(sa.keys, ka[1:], kb[1:]):
                if va != vb:
                    result = (-1 if va < vb else 1) * (-1 if descending else 1)
                    break
        return -result if backward else result
    return functools.cmp_to_key(compare)


def _ordered(stmt, stream: Stream, cursor, backward: bool):
    """The stream's select after the cursor in its index order, or None if it has no such row."""
    clause = _after(stream, cursor, backward) if cursor else None
    if clause is False:
        return None
    stmt = stmt.where(stream.where)
    if clause is not None:
        stmt = stmt.where(clause)
    return stmt.order_by(*[column.desc() if descending != backward else column.asc()
                           for column, descending in stream.keys])


def _merged(found: list, backward: bool) -> list:
    keyfunc = _compare(backward)
    return sorted(found, key=lambda item: keyfunc((item[0], item[1])))


def _keys_only(base, streams):
    columns = {column.key: column for stream in streams for column, _ in stream.keys}
    return base.with_only_columns(*columns.values())


def _keys(base, streams, cursor, backward, limit, session) -> list:
    """(sort key, stream, id) of the first `limit` rows after the cursor of the merged streams,
    in queue order, read from the streams' key columns only (the index, not the rows)."""
    found, keys_only = [], _keys_only(base, streams)
    for stream in streams:
        stmt = _ordered(keys_only, stream, cursor, backward)
        if stmt is not None:
            found += [(_row_key(stream, row), stream, row.id)
                      for row in session.execute(stmt.limit(limit)).all()]
    return _merged(found, backward)[:limit]


def _read_streams(base, streams, cursor, backward, limit, session) -> list:
    """(sort key, stream, (declaration, address text)) of the first `limit` rows after the
    cursor: the keys from the index, then only those rows."""
    keys = _keys(base, streams, cursor, backward, limit, session)
    rows = {d.id: (d, text) for d, text in session.execute(
        base.where(Declaration.id.in_([i for _, _, i in keys]))).all()} if keys else {}
    return [(key, stream, rows[i]) for key, stream, i in keys if i in rows]


def _skip(base, streams, offset: int, session) -> list | None:
    """The sort key of the row just before position `offset` (a `?page=N` link); None when the
    queue is shorter."""
    found = _keys(base, streams, None, False, offset, session)
    return decode_cursor(encode_cursor(found[offset - 1][0])) if len(found) >= offset else None


def page_statements(filters: dict, officer) -> list:
    """The selects of the queue's first page, one per stream (for EXPLAIN in the tests)."""
    base, streams = _base(filters, officer), _streams(filters)
    return [_ordered(_keys_only(base, streams), stream, None, False).limit(PER_PAGE + 1)
            for stream in streams]


def _totals(base, statuses, session) -> tuple[dict, set]:
    totals, capped = {}, set()
    for status in statuses:
        inner = base.with_only_columns(Declaration.id).where(
            Declaration.status == status).limit(COUNT_CAP + 1).subquery()
        count = session.execute(select(func.count()).select_from(inner)).scalar()
        if count:
            totals[status] = min(count, COUNT_CAP)
            if count > COUNT_CAP:
                capped.add(status)
    return totals, capped


def queue_page(filters: dict, officer, session) -> QueuePage:
    """One page of the queue in the officer's area, read with `session` (the replica)."""
    base, streams = _base(filters, officer), _streams(filters)
    token = filters["before"] or filters["after"]
    cursor = decode_cursor(token) if token else None
    backward = bool(filters["before"]) and cursor is not None
    page = filters["page"]
    if cursor is None and page > 1:
        cursor = _skip(base, streams, (page - 1) * PER_PAGE, session)
    found = []
    if cursor is not None or page == 1:
        found = _read_streams(base, streams, cursor, backward, PER_PAGE + 1, session)
    more = len(found) > PER_PAGE
    found = found[:PER_PAGE]
    if backward:
        found.reverse()
        has_prev, has_next = more, True
    else:
        has_prev, has_next = page > 1, more
    totals, capped = _totals(base, _statuses(filters), session)
    communities = session.execute(scoping.scope_communities(
        select(Community).order_by(Community.name), officer)).scalars().all()
    return QueuePage(
        rows=[row for _, _, row in found], page=page, has_next=has_next and bool(found),
        has_prev=has_prev and bool(found),
        next_cursor=encode_cursor(found[-1][0]) if found else None,
        prev_cursor=encode_cursor(found[0][0]) if found else None,
        totals=totals, capped=capped, communities=communities)

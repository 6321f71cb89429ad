"""Batch validation: many declarations checked with shared, prefetched lookups (DESIGN §4 flow 5).

Imports and synced field collection bring declarations by the thousand. Checking them one at a
time costs a dozen queries each; here every lookup the checks make (persons, addresses, houses,
live residences, occupancy, watch entries, open 漏登, proposed rows) is loaded for a whole chunk
in a few IN queries, and the chunk is written once: the changed rows of each table in one
UPDATE … CASE statement, the new rows in multi-row INSERTs. The checks themselves are the same
code as for a single declaration (app.services.declarations.validation.validate), so the
outcome is the same.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models import (
    Address, Declaration, Employment, House, MissedRegistration, Person, PersonChange, Residence,
    Watch,
)
from app.services.declarations.validation import LOOKUPS_KEY, Lookups, validate

IN_CHUNK = 1000  # ids per IN (...) list
BULK_UPDATES_KEY = "bulk_updates"  # session.info flag: flushes write dirty rows per table


def _load(model, column, ids) -> list:
    ids = sorted({i for i in ids if i is not None})
    rows = []
    for start in range(0, len(ids), IN_CHUNK):
        rows += db.session.execute(
            select(model).where(column.in_(ids[start:start + IN_CHUNK]))).scalars().all()
    return rows


def _person_ids(declaration: Declaration) -> list[int]:
    payload = declaration.payload or {}
    ids = [item.get("person_id") for key in ("tenants", "workers")
           for item in payload.get(key) or []]
    ids += [(payload.get(key) or {}).get("person_id") for key in ("owner", "agent")]
    return [i for i in ids if i is not None]


class PrefetchedLookups(Lookups):
    """The lookups of one chunk, loaded up front; rows the checks change are re-filtered live."""

    def __init__(self, declarations: list[Declaration]):
        # Strong references: the session's identity map is weak, and `db.session.get` in the
        # checks is only free while these rows stay loaded.
        self.persons = _load(Person, Person.id, (i for d in declarations for i in _person_ids(d)))
        self.addresses = _load(Address, Address.id, (d.address_id for d in declarations))
        self.houses = _load(House, House.id, (d.house_id for d in declarations))
        tenant_ids = {item.get("person_id") for d in declarations
                      for item in (d.payload or {}).get("tenants") or []}
        self.live = defaultdict(list)
        for residence in _load(Residence, Residence.person_id, tenant_ids):
            if residence.active_slot is not None:
                self.live[residence.person_id].append(residence)
        house_ids = sorted({d.house_id for d in declarations if d.house_id is not None})
        self.counts: dict[int, int] = {}
        for start in range(0, len(house_ids), IN_CHUNK):
            self.counts.update(db.session.execute(
                select(Residence.house_id, func.count()).where(
                    Residence.house_id.in_(house_ids[start:start + IN_CHUNK]),
                    Residence.active_slot.is_not(None)).group_by(Residence.house_id)).tuples().all())
        blinds = {p.document_blind_index for p in self.persons}
        self.watch: dict[tuple, Watch] = {}
        for watch in sorted(_load(Watch, Watch.document_blind_index, blinds), key=lambda w: w.id):
            if watch.delisted_at is None:
                self.watch.setdefault((watch.document_type, watch.document_blind_index), watch)
        self.misses = defaultdict(list)
        for miss in _load(MissedRegistration, MissedRegistration.document_blind_index, blinds):
            self.misses[(miss.document_type, miss.document_blind_index)].append(miss)
        ids = [d.id for d in declarations]
        self.proposed_rows = defaultdict(list)
        for model in (Residence, Employment):
            for row in _load(model, model.declaration_id, ids):
                self.proposed_rows[(model, row.declaration_id)].append(row)
        self.changes = defaultdict(list)
        for change in sorted(_load(PersonChange, PersonChange.declaration_id, ids),
                             key=lambda c: c.id):
            self.changes[change.declaration_id].append(change)

    def live_elsewhere(self, person_id: int, house_id: int) -> list[Residence]:
        return [r for r in self.live.get(person_id, ()) if r.house_id != house_id]

    def live_count(self, house_id: int) -> int:
        return self.counts.get(house_id, 0)

    def watch_for(self, person: Person) -> Watch | None:
        return self.watch.get((person.document_type, person.document_blind_index))

    def open_misses(self, person: Person) -> list[MissedRegistration]:
        # Status is read now, not at load: an earlier declaration of the chunk may have resolved it.
        return [m for m in self.misses.get((person.document_type, person.document_blind_index), ())
                if m.status == "open"]

    def proposed(self, model, declaration_id: int) -> list:
        return [row for row in self.proposed_rows.get((model, declaration_id), ())
                if row.status == "pending"]

    def proposals(self, declaration_id: int) -> list[PersonChange]:
        return [c for c in self.changes.get(declaration_id, ()) if c.status == "proposed"]

    def flush(self) -> None:
        """Deferred: the chunk is flushed once, so its inserts and updates go out together."""


def validate_many(declarations: list[Declaration]) -> list[Declaration]:
    """Validate loaded declarations with shared lookups and one flush; returns those changed."""
    lookups = PrefetchedLookups(declarations)
    db.session.info[LOOKUPS_KEY] = lookups
    db.session.info[BULK_UPDATES_KEY] = True
    changed = []
    try:
        # The checks' per-declaration lookups are prefetched, so only the rare paths query
        # (conflicts, watch hits, 漏登, proposed changes); the autoflush before such a query
        # writes the rows changed so far in bulk too, and the query sees them as it would
        # one declaration at a time.
        for declaration in declarations:
            if validate(declaration):
                changed.append(declaration)
        db.session.flush()
    finally:
        db.session.info.pop(LOOKUPS_KEY, None)
        db.session.info.pop(BULK_UPDATES_KEY, None)
    return changed


@event.listens_for(Session, "before_flush")
def _bulk_updates_before_flush(session, _flush_context, _instances) -> None:
    # Not inside a SAVEPOINT: rows marked clean here would not be restored if it rolled back.
    if session.info.get(BULK_UPDATES_KEY) and not session.in_nested_transaction():
        update_dirty_in_bulk(session)


def update_dirty_in_bulk(session) -> int:
    """Write the column changes of the session's dirty rows as one UPDATE … CASE per table and
    set of changed columns, instead of the flush's one UPDATE per row; returns rows written.

    The values are those the flush would have written (including `onupdate` columns, through
    each column type's own bind processing); the rows are then marked clean, so the flush that
    follows only inserts new rows and syncs keys.
    """
    groups: dict[tuple, list] = defaultdict(list)
    for obj in list(session.dirty):
        state = inspect(obj)
        plan = _plan(state.mapper)
        if plan is None or state.key is None:
            continue
        keys = tuple(sorted(k for k in state.committed_state if k in plan.columns))
        if keys:
            groups[(plan, keys)].append((state.identity[0], obj))
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    written = 0
    for (plan, keys), objs in groups.items():
        attrs = keys + tuple(k for k in plan.onupdate if k not in keys)
        stamps = {k: plan.onupdate[k]() for k in attrs if k not in keys}
        params: dict[str, object] = {}
        whens: dict[str, list[str]] = {k: [] for k in attrs}
        for n, (key, obj) in enumerate(objs):
            params[f"k{n}"] = key
            for c, attr in enumerate(attrs):
                value = stamps[attr] if attr in stamps else obj.__dict__.get(attr)
                process = plan.processor(attr, dialect)
                params[f"v{c}_{n}"] = process(value) if process else value
                whens[attr].append(f"WHEN :k{n} THEN :v{c}_{n}")
        key_name = quote(plan.key_column)
        assignments = ", ".join(
            f"{quote(plan.columns[a])} = CASE {key_name} {' '.join(whens[a])} END" for a in attrs)
        keys_in = ", ".join(f":k{n}" for n in range(len(objs)))
        session.execute(text(f"UPDATE {quote(plan.table)} SET {assignments} "
                             f"WHERE {key_name} IN ({keys_in})"), params)
        for _key, obj in objs:
            for attr in attrs:
                set_committed_value(obj, attr, stamps.get(attr, obj.__dict__.get(attr)))
        written += len(objs)
    return written


class _Plan:
    """What a bulk UPDATE needs to know about one mapped class."""

    def __init__(self, mapper):
        table = mapper.local_table
        self.table, self.key_column = table.name, mapper.primary_key[0].name
        self.columns = {prop.key: prop.columns[0].name for prop in mapper.column_attrs
                        if prop.columns[0].table is table}
        self.types = {prop.key: prop.columns[0].type for prop in mapper.column_attrs}
        # Callable onupdate defaults (updated_at = utcnow): the flush would set them too.
        self.onupdate = {mapper.get_property_by_column(c).key: c.onupdate.arg for c in table.c
                         if c.onupdate is not None and c.onupdate.is_callable}
        self.onupdate = {k: (lambda arg=arg: arg(None)) for k, arg in self.onupdate.items()}
        self._processors: dict = {}

    def processor(self, attr: str, dialect):
        if attr not in self._processors:
            self._processors[attr] = self.types[attr].bind_processor(dialect)
        return self._processors[attr]


_PLANS: dict = {}


def _plan(mapper) -> _Plan | None:
    """The bulk plan of a class with one table and one key column and no version counter."""
    if mapper not in _PLANS:
        simple = (len(mapper.tables) == 1 and len(mapper.primary_key) == 1
                  and mapper.version_id_col is None)
        _PLANS[mapper] = _Plan(mapper) if simple else None
    return _PLANS[mapper]

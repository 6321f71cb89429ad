"""Batch validation: many declarations checked with shared, prefetched lookups (DESIGN §4 flow 5).

Imports and synced field collection bring declarations by the thousand. Checking them one at a
time costs a dozen queries each; here every lookup the checks make (persons, addresses, houses,
live residences, occupancy, watch entries, open 漏登, proposed rows) is loaded for a whole chunk
in a few IN queries, and the chunk is flushed once. The checks themselves are the same code as
for a single declaration (app.services.declarations.validation.validate), so the outcome is the same.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Address, Declaration, Employment, House, MissedRegistration, Person, Residence, Watch,
)
from app.services.declarations.validation import LOOKUPS_KEY, Lookups, validate

IN_CHUNK = 1000  # ids per IN (...) list


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

    def flush(self) -> None:
        """Deferred: the chunk is flushed once, so its inserts and updates go out together."""


def validate_many(declarations: list[Declaration]) -> list[Declaration]:
    """Validate loaded declarations with shared lookups and one flush; returns those changed."""
    lookups = PrefetchedLookups(declarations)
    db.session.info[LOOKUPS_KEY] = lookups
    changed = []
    try:
        for declaration in declarations:
            if validate(declaration):
                changed.append(declaration)
        db.session.flush()
    finally:
        db.session.info.pop(LOOKUPS_KEY, None)
    return changed

"""Seeding and load for the fault scenarios: landlords with houses, and clients that submit
declarations through the real API the way the mini-program does (Idempotency-Key, and a retry
after Retry-After when the service says 503)."""
from __future__ import annotations

import collections
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import requests
from sqlalchemy import select

from app.fakedata import FakeData

FINAL = ("verified", "needs_review", "flagged", "rejected", "approved")


@dataclass
class Submission:
    house_id: int
    token: str
    body: dict
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    declaration_id: int | None = None
    receipt_code: str | None = None
    accepted_at: float | None = None
    attempts: int = 0


@dataclass
class Tally:
    """Every HTTP answer the clients saw, by status (0: no answer at all)."""

    statuses: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)


def seed_houses(count: int, per_landlord: int = 5, seed: int = 18) -> list[tuple[int, str]]:
    """`count` rental houses, `per_landlord` to each mini-program landlord: (house id, token)."""
    from app.app_tokens import issue_app_token
    from app.extensions import db
    from app.models import House, WeChatUser
    from tests.factories import make_address, make_jurisdiction

    place = make_jurisdiction(prefix=f"F{seed}")
    houses = []
    user = None
    for n in range(count):
        if n % per_landlord == 0:
            user = WeChatUser(openid=f"faults-{seed}-{n}-{uuid.uuid4().hex[:8]}", source="miniapp",
                              subscribed=True)
            db.session.add(user)
            db.session.flush()
        address = make_address(place["community"])
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True,
                      rental_type="whole", rooms=3, owner_wechat_user_id=user.id)
        db.session.add(house)
        db.session.flush()
        houses.append((house.id, issue_app_token(user.id)))
    db.session.commit()
    return houses


def submissions(houses: list[tuple[int, str]], seed: int = 18) -> list[Submission]:
    """One move-in of one new tenant per house."""
    fake = FakeData(seed)
    return [Submission(house_id, token, {"tenants": [{
        "name": fake.name(), "document_type": "resident_id",
        "document_number": fake.resident_id(), "phone": fake.mobile(),
        "start_date": date.today().isoformat()}]}) for house_id, token in houses]


def submit(base_url: str, item: Submission, tally: Tally, give_up_at: float,
           http: requests.Session) -> None:
    """POST until the API accepts (201) or refuses for good; 503 and no answer are retried."""
    while time.monotonic() < give_up_at:
        item.attempts += 1
        try:
            resp = http.post(f"{base_url}/api/v1/houses/{item.house_id}/move-ins",
                             json=item.body, timeout=15,
                             headers={"Authorization": f"Bearer {item.token}",
                                      "Idempotency-Key": item.key})
        except requests.RequestException:
            tally.add(0)
            time.sleep(0.5)
            continue
        tally.add(resp.status_code)
        if resp.status_code in (200, 201):  # 200: the key's declaration, accepted before
            body = resp.json()
            item.declaration_id = body["id"]
            item.receipt_code = body["receipt_code"]
            item.accepted_at = time.monotonic()
            return
        if resp.status_code >= 500:
            wait = resp.headers.get("Retry-After", "1")
            time.sleep(min(float(wait) if wait.isdigit() else 1.0, 2.0))
            continue
        raise AssertionError(f"submission refused: {resp.status_code} {resp.text[:300]}")


def submit_all(base_url: str, items: list[Submission], tally: Tally, *, rate: float,
               threads: int = 8, give_up_after: float = 120) -> None:
    """Submit every item at about `rate` per second from a pool of client threads."""
    give_up_at = time.monotonic() + give_up_after
    local = threading.local()

    def one(index_item):
        index, item = index_item
        time.sleep(max(0.0, start + index / rate - time.monotonic()))
        if not hasattr(local, "http"):
            local.http = requests.Session()
        submit(base_url, item, tally, give_up_at, local.http)

    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, enumerate(items)))


def statuses(ids: list[int]) -> dict[int, str]:
    """The declarations' current statuses, read afresh (other processes commit them)."""
    from app.extensions import db
    from app.models import Declaration

    db.session.rollback()
    found = {row.id: row.status for row in db.session.execute(
        select(Declaration.id, Declaration.status).where(Declaration.id.in_(ids)))}
    db.session.rollback()
    return found


def push_counts(wechat, items: list[Submission]) -> collections.Counter:
    """How many declarations got 0, 1, 2… pushes at the fake WeChat."""
    return collections.Counter(wechat.pushes_for(item.receipt_code) for item in items)


def all_settled(wechat, items: list[Submission]) -> bool:
    """Every accepted declaration final, and each of them pushed at least once."""
    current = statuses([item.declaration_id for item in items])
    return (all(current.get(item.declaration_id) in FINAL for item in items)
            and push_counts(wechat, items).get(0, 0) == 0)


def settle(wechat, items: list[Submission], since: float, within: float,
           grace: float = 60.0) -> tuple[float | None, float | None]:
    """Seconds from `since` until everything settled: (within the bound or None, and — only
    when the bound was missed — however long it took up to `grace` more, telling a slow run
    from a lost job)."""
    while time.monotonic() < since + within:
        if all_settled(wechat, items):
            seconds = time.monotonic() - since
            return seconds, seconds
        time.sleep(0.5)
    while time.monotonic() < since + within + grace:
        if all_settled(wechat, items):
            return None, time.monotonic() - since
        time.sleep(1.0)
    return None, None


def outcome(wechat, items: list[Submission]) -> dict:
    """The figures every scenario reports once things settled (or the time ran out)."""
    ids = [item.declaration_id for item in items]
    current = statuses(ids)
    pushed = push_counts(wechat, items)
    return {"accepted_lost": sum(1 for i in ids if i not in current),
            "not_final": sum(1 for i in ids if current.get(i) not in FINAL),
            "pushes_missing": pushed.get(0, 0),
            "pushes_duplicated": sum(n for count, n in pushed.items() if count > 1)}

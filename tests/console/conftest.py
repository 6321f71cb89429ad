"""Console fixtures: two stations of one branch (see helpers.make_area) and one officer account
per role, all with the same known password."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.extensions import db as _db
from tests.console.helpers import PASSWORD, Area, create_officer, login, make_area


@dataclass
class World:
    a: Area
    b: Area
    officers: dict


@pytest.fixture()
def world(db) -> World:
    """Station A and station B of one branch, and an account per role."""
    a = make_area("A", "13800000001")
    b = make_area("B", "13900000002")
    ja, jb = a.jurisdiction, b.jurisdiction
    branch_id = ja["branch"].id
    officers = {
        "officer_a": create_officer(username="officer_a", password=PASSWORD, name="甲民警",
                                    badge_number="P0001", role="officer", branch_id=branch_id,
                                    station_id=ja["station"].id,
                                    police_area_id=ja["police_area"].id),
        "officer_b": create_officer(username="officer_b", password=PASSWORD, name="乙民警",
                                    badge_number="P0002", role="officer", branch_id=branch_id,
                                    station_id=jb["station"].id,
                                    police_area_id=jb["police_area"].id),
        "station_admin_a": create_officer(username="station_a", password=PASSWORD,
                                          name="甲所管理员", badge_number="P0003",
                                          role="station_admin", branch_id=branch_id,
                                          station_id=ja["station"].id),
        "branch_admin": create_officer(username="branch", password=PASSWORD, name="分局管理员",
                                       badge_number="P0004", role="branch_admin",
                                       branch_id=branch_id),
        "system_admin": create_officer(username="sysadmin", password=PASSWORD, name="系统管理员",
                                       badge_number="P0005", role="system_admin",
                                       branch_id=branch_id),
    }
    _db.session.commit()
    return World(a, b, officers)


@pytest.fixture()
def as_officer(client, world):
    """A client signed in as officer_a (station A, police area A)."""
    resp = login(client, "officer_a")
    assert resp.status_code == 302
    return client

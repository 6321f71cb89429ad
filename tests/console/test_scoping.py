"""Roles × endpoints: an officer of station A gets 404 for station B's objects, and every list,
search and bulk action leaves B's objects out. Scoping is enforced in the query layer."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Address, AuditLog, Declaration
from app.services.accounts import scoping
from tests.console.helpers import login, search


def _b_endpoints(world):
    """(method, url, form data) for each console endpoint that names one of B's objects."""
    b = world.b
    review = b.declarations["review"]
    return [
        ("GET", f"/console/declarations/{review.id}", None),
        ("POST", f"/console/declarations/{review.id}/decide", {"action": "approve"}),
        ("POST", f"/console/declarations/{review.id}/reveal",
         {"field": "document_number", "reason": "核查身份信息"}),
        ("POST", f"/console/declarations/{review.id}/address",
         {"address_id": str(b.other_address.id)}),
        ("GET", f"/console/persons/{b.person.id}", None),
        ("POST", f"/console/persons/{b.person.id}/reveal",
         {"field": "document", "reason": "核查身份信息"}),
        ("GET", f"/console/houses/{b.house.id}", None),
        ("GET", f"/console/addresses/{b.address.id}", None),
        ("POST", f"/console/addresses/{b.address.id}",
         {"full_text": "改掉别人的地址", "status": "active"}),
        ("POST", "/console/plates", {"size": "small", "ids": [str(b.address.id)]}),
        ("POST", "/console/plates",
         {"size": "small", "community_id": str(b.jurisdiction["community"].id)}),
    ]


@pytest.mark.parametrize("username", ["officer_a", "station_a"])
def test_officer_of_station_a_gets_404_for_every_station_b_object(client, world, username):
    login(client, username)
    for method, url, data in _b_endpoints(world):
        resp = client.get(url) if method == "GET" else client.post(url, data=data)
        assert resp.status_code == 404, (method, url)
    # Nothing changed and nothing was revealed.
    db.session.expire_all()
    assert db.session.get(Declaration, world.b.declarations["review"].id).status == "needs_review"
    assert db.session.get(Address, world.b.address.id).plate_issued_at is None
    assert db.session.get(Address, world.b.address.id).full_text != "改掉别人的地址"
    assert not db.session.execute(select(AuditLog).where(
        AuditLog.action.like("%reveal%"))).first()


def test_branch_admin_reaches_objects_of_both_stations(client, world):
    login(client, "branch")
    for area in (world.a, world.b):
        review_url = f"/console/declarations/{area.declarations['review'].id}"
        assert client.get(review_url).status_code == 200
        assert client.get(f"/console/persons/{area.person.id}").status_code == 200
        assert client.get(f"/console/houses/{area.house.id}").status_code == 200
        assert client.get(f"/console/addresses/{area.address.id}").status_code == 200


def test_officer_sees_own_area_objects(client, world):
    login(client, "officer_a")
    a = world.a
    for url in (f"/console/declarations/{a.declarations['review'].id}",
                f"/console/persons/{a.person.id}", f"/console/houses/{a.house.id}",
                f"/console/addresses/{a.address.id}"):
        assert client.get(url).status_code == 200, url


def test_review_queue_lists_only_the_officers_area(client, world):
    login(client, "officer_a")
    html = client.get("/console/declarations?status=all").get_data(as_text=True)
    assert world.a.declarations["review"].receipt_code in html
    assert world.b.declarations["review"].receipt_code not in html


def test_search_by_document_number_does_not_find_people_of_another_station(client, world):
    login(client, "officer_a")
    html = search(client, "110105194912310037").get_data(as_text=True)
    assert "辖区内没有找到匹配的记录" in html
    login_b = client.post("/console/logout", data={})
    assert login_b.status_code == 302
    login(client, "officer_b")
    html = search(client, "110105194912310037").get_data(as_text=True)
    assert f"/console/persons/{world.b.person.id}" in html


def test_bulk_approve_ignores_ids_from_another_station(client, world):
    login(client, "officer_a")
    a_id, b_id = world.a.declarations["verified"].id, world.b.declarations["verified"].id
    client.post("/console/declarations/bulk-approve", data={"ids": [str(a_id), str(b_id)]})
    db.session.expire_all()
    assert db.session.get(Declaration, a_id).status == "approved"
    assert db.session.get(Declaration, b_id).status == "verified"


def test_address_listing_and_plates_by_community_stay_in_the_area(client, world):
    login(client, "officer_a")
    html = client.get("/console/addresses").get_data(as_text=True)
    assert world.a.address.full_text in html
    assert world.b.address.full_text not in html


@pytest.mark.parametrize("role,sees_a,sees_b", [
    ("officer_a", True, False), ("station_admin_a", True, False), ("officer_b", False, True),
    ("branch_admin", True, True), ("system_admin", True, True),
])
def test_scope_declarations_by_role(world, role, sees_a, sees_b):
    officer = world.officers[role]
    ids = set(db.session.execute(
        scoping.scope_declarations(select(Declaration.id), officer)).scalars())
    assert (world.a.declarations["review"].id in ids) is sees_a
    assert (world.b.declarations["review"].id in ids) is sees_b


def test_audit_viewer_of_a_station_admin_shows_only_that_stations_officers(client, world):
    from app.services.accounts import audit

    audit.record(world.officers["officer_a"], "test.a", "declaration", 1)
    audit.record(world.officers["officer_b"], "test.b", "declaration", 2)
    db.session.commit()
    login(client, "station_a")
    html = client.get("/console/audit?action=test").get_data(as_text=True)
    assert "test.a" in html and "test.b" not in html


def test_plain_officer_cannot_open_admin_pages(client, world):
    login(client, "officer_a")
    for url in ("/console/audit", "/console/officers", "/console/addresses/import"):
        assert client.get(url).status_code == 403, url

"""No identifying value travels in a URL: a real gunicorn's access log, after an officer searched
by document number, phone and name, holds none of them."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote, quote_plus

import pytest
import requests

from bench.common import free_port, start_gunicorn, stop, wait_ready
from tests.conftest import TEST_KEYS

NUMBER, PHONE, NAME = "11010519491231002X", "13912345678", "欧阳小明"
TIMEOUT = 10


def _seed(database_url: str) -> None:
    """Schema by Alembic, one area with an officer and a person living there."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import House, Residence
    from tests.console.helpers import PASSWORD, create_officer
    from tests.factories import make_address, make_jurisdiction, make_person

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None, **TEST_KEYS})
    with app.app_context():
        upgrade()
        place = make_jurisdiction("L")
        address = make_address(place["community"])
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True, rooms=1)
        db.session.add(house)
        db.session.flush()
        person = make_person(NUMBER, name=NAME, phone=PHONE)
        db.session.add(Residence(person_id=person.id, house_id=house.id, declared_by="landlord",
                                 start_date=date.today(), status="active"))
        create_officer(username="logcheck", password=PASSWORD, name="王警官", badge_number="7",
                       role="officer", branch_id=place["branch"].id,
                       station_id=place["station"].id, police_area_id=place["police_area"].id)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.fixture()
def server(tmp_path):
    """gunicorn serving the app (real CSRF, real sessions) on a temp SQLite, always stopped."""
    database_url = f"sqlite:///{tmp_path}/access.sqlite3"
    instance = str(tmp_path / "instance")
    _seed(database_url)
    port, access_log = free_port(), tmp_path / "access.log"
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "development", "WECHAT_SANDBOX": "0",
           "DATABASE_URL": database_url, "ANJU_INSTANCE_PATH": instance,
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **TEST_KEYS}
    # One sync worker: without REDIS_URL the saved searches live in that process's fake Redis.
    proc = start_gunicorn("wsgi:app", port, env, tmp_path / "server.log",
                          ["--workers", "1", "--timeout", "30", "--access-logfile",
                           str(access_log)])
    try:
        wait_ready(port, proc, seconds=60)
        yield f"http://127.0.0.1:{port}", access_log, proc
    finally:
        stop(proc)


def test_searches_by_number_phone_and_name_leave_none_of_them_in_the_access_log(server):
    base, access_log, proc = server
    web = requests.Session()
    login_page = web.get(f"{base}/console/login", timeout=TIMEOUT).text
    signed_in = web.post(f"{base}/console/login", timeout=TIMEOUT, data={
        "csrf_token": _csrf(login_page), "username": "logcheck",
        "password": "Zhengque-mima-2026"})
    assert signed_in.status_code == 200 and "民警工作台" in signed_in.text, signed_in.text[-500:]
    for query in (NUMBER, PHONE, NAME):
        token = _csrf(web.get(f"{base}/console/search", timeout=TIMEOUT).text)
        found = web.post(f"{base}/console/search", timeout=TIMEOUT,
                         data={"csrf_token": token, "q": query, "kind": "auto"})
        assert found.status_code == 200
        assert "110105********002X" in found.text, query  # the search ran and found the person
        assert "/console/search?s=" in found.url
        export = web.post(f"{base}/console/search/export", timeout=TIMEOUT, data={
            "csrf_token": _csrf(found.text), "q": query, "kind": "auto"})
        assert export.status_code == 200 and "110105********002X" in export.text
    refused = web.post(f"{base}/console/search", timeout=TIMEOUT, data={"q": NUMBER})
    assert refused.status_code == 400  # no CSRF token: refused, and nothing searched
    stop(proc)  # flushes the access log
    log = access_log.read_text(encoding="utf-8", errors="replace")
    assert "POST /console/search" in log and "GET /console/search?s=" in log
    for value in (NUMBER, NUMBER.lower(), NUMBER[6:14], PHONE, NAME, quote(NAME),
                  quote_plus(NAME)):
        assert value not in log, value

"""Every console page renders in Chinese for every role, and sign-in is required for all of them."""
import pytest

from tests.console.helpers import login, search

PAGES = ["/console/", "/console/declarations", "/console/declarations?status=all&late=1&age=3",
         "/console/search", "/console/addresses", "/console/password"]


@pytest.mark.parametrize("username", ["officer_a", "station_a", "branch", "sysadmin"])
def test_console_pages_render_for_every_role(client, world, username):
    assert login(client, username).status_code == 302
    a = world.a
    pages = PAGES + [f"/console/declarations/{a.declarations['review'].id}",
                     f"/console/persons/{a.person.id}", f"/console/houses/{a.house.id}",
                     f"/console/addresses/{a.address.id}",
                     f"/console/addresses?community_id={a.jurisdiction['community'].id}"]
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "民警工作台" in resp.get_data(as_text=True)
    found = search(client, "A租客")
    assert found.status_code == 200 and "民警工作台" in found.get_data(as_text=True)


def test_admin_pages_render_for_system_admin(client, world):
    login(client, "sysadmin")
    for url in ["/console/audit", "/console/officers",
                f"/console/officers/{world.officers['officer_a'].id}",
                "/console/addresses/import"]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("url", ["/console/", "/console/declarations", "/console/search",
                                 "/console/addresses", "/console/audit", "/console/officers"])
def test_console_pages_send_anonymous_visitors_to_sign_in(client, world, url):
    resp = client.get(url)
    assert resp.status_code == 302
    assert "/console/login" in resp.headers["Location"]

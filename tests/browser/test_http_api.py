"""The pages' calls to the HTTP API in real Chromium: only the site's own origin may make them (CORS,
as API Gateway answers), and a logout the server did not confirm is not reported as done."""

import pytest

from devstack.local_stage import free_port
from devstack.site import SiteServer, build_local_site
from tests.browser.conftest import log_in
from tests.integration.conftest import Client


@pytest.fixture
def foreign_site(stack, tmp_path):
    """The same pages, served from an origin the HTTP API does not allow."""
    server = SiteServer(build_local_site(stack, tmp_path / "site"), free_port()).start()
    yield server
    server.stop()


def test_a_page_from_another_origin_cannot_use_the_http_api(site, foreign_site, stack, new_page, account):
    name, password = account()
    assert foreign_site.url not in stack.allowed_origins
    page = new_page()
    page.goto(f"{foreign_site.url}/index.html")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "cannot reach the server" in page.inner_text("#form-error")
    assert page.evaluate("localStorage.getItem('wschat.token')") is None
    # The same login from the site's own origin works.
    log_in(new_page(), site, name, password)


def test_a_confirmed_logout_says_so(site, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    page.click("#logout")
    page.wait_for_url("**/index.html?reason=logout")
    assert page.inner_text("#notice") == "You are logged out."


@pytest.mark.parametrize("failure", ["unreachable", "server error"])
def test_a_logout_the_server_did_not_confirm_says_so_and_still_clears_the_session(
        site, stack, new_page, account, failure):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    token = page.evaluate("localStorage.getItem('wschat.token')")

    def fail(route):
        if failure == "unreachable":
            route.abort("connectionrefused")
        else:
            route.fulfill(status=503, json={"error": "the store is unavailable"},
                          headers={"Access-Control-Allow-Origin": site.url})

    page.route(f"{stack.http_url}/logout", fail)
    page.click("#logout")
    page.wait_for_url("**/index.html?reason=logout-unconfirmed")
    notice = page.inner_text("#notice")
    assert "logged out on this device" in notice and "did not confirm" in notice
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert page.errors == []
    page.goto(f"{site.url}/chat.html")
    page.wait_for_url("**/index.html?reason=signin")
    # What the notice warns of: the server never revoked the token, so it still connects.
    Client(stack, token).close()

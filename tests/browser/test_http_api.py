"""The pages' calls to the HTTP API in real Chromium: only the site's own origin may make them (CORS,
as API Gateway answers)."""

import pytest

from devstack.site import SiteServer, build_local_site
from devstack.stack import free_port
from tests.browser.conftest import log_in


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
    assert page.evaluate("sessionStorage.getItem('wschat.token')") is None
    # The same login from the site's own origin works.
    log_in(new_page(), site, name, password)

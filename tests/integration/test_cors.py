"""CORS on the local stack, from outside: the HTTP API answers as API Gateway does (only the site's
origin gets Access-Control-Allow-Origin, on preflights and on real answers), and DynamoDB Local
answers no web page at all."""

import pytest
import requests

OTHER_ORIGINS = ["http://evil.example", "http://127.0.0.1:1", "null"]


def preflight(url, origin):
    return requests.options(url, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }, timeout=30)


def cors_headers(response):
    return {name.lower(): value for name, value in response.headers.items() if name.lower().startswith("access-control")}


def test_the_sites_origin_may_call_the_http_api(stack):
    site = stack.allowed_origins[0]
    answer = preflight(f"{stack.http_url}/logout", site)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == site
    allowed_headers = answer.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    methods = answer.headers["Access-Control-Allow-Methods"]
    assert "POST" in methods or methods == "*"

    guest = requests.post(f"{stack.http_url}/guest", headers={"Origin": site}, timeout=30)
    assert guest.status_code == 201
    assert guest.headers["Access-Control-Allow-Origin"] == site


@pytest.mark.parametrize("origin", OTHER_ORIGINS)
def test_another_origin_gets_no_cors_header_on_a_preflight_or_an_answer(stack, origin):
    assert cors_headers(preflight(f"{stack.http_url}/login", origin)) == {}
    # The request itself still runs (CORS only stops the browser from reading the answer), so use
    # one that changes nothing: a failed login.
    answer = requests.post(f"{stack.http_url}/login", json={"username": "nobody1", "password": "not-it-at-all"},
                           headers={"Origin": origin}, timeout=30)
    assert answer.status_code == 401
    assert cors_headers(answer) == {}


def test_an_answer_without_an_origin_has_no_cors_header(stack):
    answer = requests.post(f"{stack.http_url}/guest", timeout=30)
    assert answer.status_code == 201 and cors_headers(answer) == {}


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:8080"])
def test_dynamodb_local_answers_no_web_page(stack, origin):
    answer = requests.options(stack.ddb_url, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-amz-target",
    }, timeout=30)
    assert "access-control-allow-origin" not in cors_headers(answer)

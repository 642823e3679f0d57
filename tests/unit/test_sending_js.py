"""Sending's parts with no DOM under Node: what the count under the composer says
(chat/composer.js charsLeftText) and how long a message refused by the rate limit waits before it
goes again (chat/rate_limit.js)."""

import json

import pytest

from tests.unit.node_harness import module_url, run_node

HARNESS = r"""
const [composerUrl, rateLimitUrl] = JSON.parse(process.argv[2]);
const { charsLeftText, utf8Length } = await import(composerUrl);
const { rateLimitWaitMs, RATE_LIMIT_WAIT_FALLBACK_MS, RATE_LIMIT_WAIT_FLOOR_MS } = await import(rateLimitUrl);
const limits = { maxChars: 1_000, maxBytes: 2_000 };
console.log(JSON.stringify({
  counts: [
    charsLeftText("hello", limits),
    charsLeftText("a".repeat(850), limits),
    charsLeftText("中".repeat(620), limits), // 620 characters, 1860 bytes
    charsLeftText("a".repeat(1_000), limits),
  ],
  bytes: utf8Length("é😀"),
  waits: [{}, { retryAfterMs: 1_500 }, { retryAfterMs: 0 }, { retryAfterMs: -5 }, { retryAfterMs: "soon" },
    { retryAfterMs: Infinity }].map(rateLimitWaitMs),
  fallback: RATE_LIMIT_WAIT_FALLBACK_MS,
  floor: RATE_LIMIT_WAIT_FLOOR_MS,
}));
"""


@pytest.fixture(scope="module")
def results():
    return run_node(HARNESS, json.dumps([module_url("chat/composer.js"), module_url("chat/rate_limit.js")]))


def test_the_count_shows_only_near_the_limit_and_names_the_limit_that_comes_first(results):
    # Plenty left; characters near their limit; bytes first (CJK characters take three bytes each).
    assert results["counts"] == ["", "150 left", "140 bytes left", "0 left"]
    assert results["bytes"] == 6


def test_a_rate_limited_message_waits_what_the_server_says_within_bounds(results):
    fallback, floor = results["fallback"], results["floor"]
    assert results["waits"] == [fallback, 1500, floor, fallback, fallback, fallback]

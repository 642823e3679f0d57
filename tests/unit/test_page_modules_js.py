"""The site's ES modules as a whole (templates/static/js): each one links under Node (every import
names a module and an export that exist), loads without a page where it is not a page's entry, and
stays a short module with one job."""

import json

import pytest

from tests.unit.node_harness import JS, module_url, run_node

# The pages' entry modules run the page as they load: they are linked, not run.
ENTRIES = {"chat.js", "login.js"}
MAX_LINES = 400

MODULES = sorted(path.relative_to(JS).as_posix() for path in JS.rglob("*.js"))

HARNESS = r"""
const results = {};
for (const [name, url] of JSON.parse(process.argv[2])) {
  try {
    await import(url);
    results[name] = null;
  } catch (error) {
    // A module that is missing, or an import naming an export that does not exist, fails to link.
    const linking = error instanceof SyntaxError || error.code === "ERR_MODULE_NOT_FOUND";
    results[name] = { linking, message: String(error) };
  }
}
console.log(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def loaded():
    return run_node(HARNESS, json.dumps([[name, module_url(name)] for name in MODULES]))


def test_the_chat_page_is_split_into_modules_by_feature():
    assert {"chat.js", "page_store.js"} <= set(MODULES)
    for folder in ("chat", "rooms", "message_features"):
        assert any(name.startswith(f"{folder}/") for name in MODULES), folder


@pytest.mark.parametrize("name", MODULES)
def test_every_module_links(loaded, name):
    failure = loaded[name]
    assert not (failure and failure["linking"]), failure


@pytest.mark.parametrize("name", sorted(set(MODULES) - ENTRIES))
def test_every_module_but_the_entries_loads_without_a_page(loaded, name):
    assert loaded[name] is None, loaded[name]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_is_short(name):
    lines = (JS / name).read_text().count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by job"

"""The message features' parts with no DOM (templates/static/js/message_features/) under Node: a
reaction frame applied to a message's reactions (reactions.js applyReaction), a reply's excerpt
(replies.js replyExcerpt) and the words of a refused edit or reaction (refusals.js)."""

import json

import pytest

from tests.unit.node_harness import module_url, run_node

HARNESS = r"""
const [reactionsUrl, repliesUrl, refusalsUrl] = JSON.parse(process.argv[2]);
const { applyReaction } = await import(reactionsUrl);
const { replyExcerpt } = await import(repliesUrl);
const { messageActionRefusal } = await import(refusalsUrl);
const results = {};
const options = { me: "me", namesShown: 2 };

{
  const list = [{ emoji: "👍", count: 1, users: ["bob"], me: false }];
  const steps = [];
  const apply = (frame) => {
    const changed = applyReaction(list, frame, options);
    steps.push({ changed, list: structuredClone(list) });
  };
  apply({ emoji: "👍", user: "me", added: true, count: 2 });
  apply({ emoji: "🎉", user: "carol", added: true, count: 1 });
  apply({ emoji: "👍", user: "dave", added: true, count: 3 }); // a third name is counted, not listed
  apply({ emoji: "👍", user: "me", added: false, count: 2 });
  apply({ emoji: "🎉", user: "carol", added: false, count: 0 }); // nobody holds it: it goes
  apply({ emoji: "😮", user: "erin", added: false, count: 0 }); // a removal of what is not shown
  results.reactions = steps;
}

results.excerpts = [
  replyExcerpt("  hello\n\n  world  ", 20),
  replyExcerpt("abcdefghij", 10),
  replyExcerpt("abcdefghijk", 10),
];

results.refusals = [
  messageActionRefusal({ code: "rate_limited", message: "slow" }),
  messageActionRefusal({ code: "not_found", message: "gone" }),
  messageActionRefusal({ code: "forbidden", message: "only the author may edit a message" }),
];
console.log(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def results():
    urls = [module_url(name) for name in ("message_features/reactions.js", "message_features/replies.js",
                                          "refusals.js")]
    return run_node(HARNESS, json.dumps(urls))


def test_a_reaction_frame_sets_the_count_and_lists_some_names(results):
    steps = results["reactions"]
    assert steps[0] == {"changed": True, "list": [{"emoji": "👍", "count": 2, "users": ["bob", "me"], "me": True}]}
    assert steps[1]["list"][1] == {"emoji": "🎉", "count": 1, "users": ["carol"], "me": False}
    assert steps[2]["list"][0] == {"emoji": "👍", "count": 3, "users": ["bob", "me"], "me": True}


def test_a_reaction_taken_back_drops_the_name_and_an_emoji_nobody_holds(results):
    steps = results["reactions"]
    assert steps[3]["list"][0] == {"emoji": "👍", "count": 2, "users": ["bob"], "me": False}
    assert [entry["emoji"] for entry in steps[4]["list"]] == ["👍"]
    assert steps[5]["changed"] is False and steps[5]["list"] == steps[4]["list"]


def test_a_reply_quotes_one_line_cut_to_its_length(results):
    assert results["excerpts"] == ["hello world", "abcdefghij", "abcdefghi…"]


def test_a_refused_edit_or_reaction_is_said_in_words(results):
    assert results["refusals"] == [
        "too many at once; wait a moment and try again.",
        "that message is gone.",
        "only the author may edit a message.",
    ]

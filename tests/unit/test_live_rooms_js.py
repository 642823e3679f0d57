"""Every room live, the page's side under Node: an `activity` frame moves the badge of the room it names
(rooms/roster.js), and moderation is shown before typing (chat/moderation.js): a mute replaces the
composer with the reason and the end and gives it back when the mute ends; a kick or a ban clears
the room's view."""

import pytest

from handler import protocol
from tests.unit.node_harness import module_url, run_node

DM = f"{protocol.client_contract()['dmPrefix']}0123456789abcdef"

HARNESS = r"""
const [rosterUrl, moderationUrl] = JSON.parse(process.argv[2]);
const { Roster } = await import(rosterUrl);
const { Moderation, Mutes, mutedNotice } = await import(moderationUrl);
const dm = `${JSON.parse(process.argv[1]).dmPrefix}0123456789abcdef`;
const results = {};

{
  const roster = new Roster();
  roster.update([
    { room: "garden", visibility: "public", role: "owner", unread: 0, mention: false },
    { room: dm, dm: true, with: "alice", unread: 0, mention: false, online: false },
    { room: "noisy", visibility: "public", role: null, unread: null, mention: false },
  ]);
  const frame = (room, extra = {}) => ({ type: "activity", room, id: "1", sender: "alice",
    sentAt: "2026-11-26T06:40:00.000Z", dm: false, mention: false, ...extra });
  const known = [
    roster.activity(frame(dm, { dm: true })),
    roster.activity(frame(dm, { dm: true })),
    roster.activity(frame("garden", { mention: true, sender: "carol" })),
    roster.activity(frame("noisy")),
    roster.activity(frame("elsewhere")),
  ];
  const entry = (room) => roster.entry(room);
  results.roster = {
    known,
    dm: [entry(dm).unread, entry(dm).mention, entry(dm).online, entry(dm).lastActivityAt],
    garden: [entry("garden").unread, entry("garden").mention],
    noisy: [entry("noisy").unread],
    elsewhere: roster.unreadElsewhere("garden"),
  };
}

{
  const mutes = new Mutes();
  const now = Date.parse("2026-11-26T06:40:00.000Z");
  mutes.set("garden", "2026-11-26T06:45:00.000Z", "bob");
  mutes.set("pond", "not a time");
  results.mutes = {
    running: mutes.current("garden", now),
    after: mutes.current("garden", now + 5 * 60_000),
    gone: mutes.byRoom.has("garden"),
    bad: mutes.current("pond", now),
    words: mutedNotice("#garden", { until: "2026-11-26T06:45:00.000Z", by: "bob" }).startsWith(
      "You are muted in #garden (by bob) until "),
  };
}

{
  const shown = [];
  let cleared = 0;
  let room = "garden";
  const composer = { block: (text) => shown.push(text) };
  const moderation = new Moderation({ room: () => room, label: (r) => `#${r}`, composer,
    messages: { clear: () => { cleared += 1; } } });
  moderation.welcomed({ room: "garden", mutedUntil: null });
  moderation.muted({ room: "garden", by: "bob", until: new Date(Date.now() + 300).toISOString() });
  const whileMuted = shown.at(-1);
  moderation.muted({ room: "pond", by: "bob", until: new Date(Date.now() + 60_000).toISOString() });
  const otherRoomMute = shown.at(-1);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const afterTheEnd = shown.at(-1);
  room = "pond";
  moderation.welcomed({ room: "pond", mutedUntil: new Date(Date.now() + 60_000).toISOString() });
  const inPond = shown.at(-1);
  moderation.removed({ type: "banned", room: "lobby", by: "bob", until: null }, false);
  const notShown = [shown.at(-1) === inPond, cleared];
  moderation.removed({ type: "banned", room: "pond", by: "bob", until: null }, true);
  const banned = shown.at(-1);
  room = "general";
  moderation.welcomed({ room: "general", mutedUntil: null });
  results.moderation = { first: shown[0], whileMuted, otherRoomMute, afterTheEnd, inPond, notShown, banned,
    cleared, back: shown.at(-1) };
  clearTimeout(moderation.timer);
}

console.log(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def results():
    return run_node(HARNESS, f'["{module_url("rooms/roster.js")}", "{module_url("chat/moderation.js")}"]')


def test_an_activity_frame_moves_the_badge_of_its_room_each_dm_message_counting(results):
    roster = results["roster"]
    # The room named is known (the last one is not: a rooms frame will list it).
    assert roster["known"] == [True, True, True, True, False]
    # A DM's first and later messages alike: two frames, two unread; its sender is online.
    assert roster["dm"] == [2, False, True, "2026-11-26T06:40:00.000Z"]
    assert roster["garden"] == [1, True]
    # A room the server did not count stays uncounted (its badge shows only a mention).
    assert roster["noisy"] == [None]
    assert roster["elsewhere"] == 2


def test_a_mute_runs_until_its_end_and_a_bad_time_is_no_mute(results):
    mutes = results["mutes"]
    assert mutes["running"]["until"] == "2026-11-26T06:45:00.000Z"
    assert mutes["running"]["by"] == "bob"
    assert mutes["running"]["leftMs"] == 5 * 60_000
    assert mutes["after"] is None and mutes["gone"] is False
    assert mutes["bad"] is None
    assert mutes["words"] is True


def test_the_composer_gives_way_to_the_mute_and_comes_back_when_it_ends(results):
    moderation = results["moderation"]
    assert moderation["first"] is None
    assert moderation["whileMuted"].startswith("You are muted in #garden (by bob) until ")
    # A mute in another room leaves this room's composer as it is (still muted here).
    assert moderation["otherRoomMute"] == moderation["whileMuted"]
    assert moderation["afterTheEnd"] is None
    # Welcomed into a room where a mute runs: replaced before anything is typed.
    assert moderation["inPond"].startswith("You are muted in #pond until ")


def test_a_ban_from_the_room_shown_clears_its_view_and_says_why(results):
    moderation = results["moderation"]
    # A ban from a room not shown changes nothing.
    assert moderation["notShown"] == [True, 0]
    assert moderation["banned"].startswith("bob banned you from #pond")
    assert moderation["cleared"] == 1
    # The next room's welcome brings the composer back.
    assert moderation["back"] is None

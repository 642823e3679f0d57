"""The rooms' parts with no DOM (templates/static/js/rooms/) under Node: the roster of the user's
rooms (roster.js), what the user may do in the room shown (permissions.js), the requests waiting
for their reply (requests.js) and the words of a room action done (rooms.js doneWords)."""

import json

import pytest

from handler import protocol
from tests.unit.node_harness import module_url, run_node

DM = f"{protocol.client_contract()['dmPrefix']}0123456789abcdef"

HARNESS = r"""
const [rosterUrl, permissionsUrl, requestsUrl, roomsUrl] = JSON.parse(process.argv[2]);
const { Roster, isDm } = await import(rosterUrl);
const { Permissions } = await import(permissionsUrl);
const { RoomRequests } = await import(requestsUrl);
const { doneWords } = await import(roomsUrl);
const results = {};
const dm = `${JSON.parse(process.argv[1]).dmPrefix}0123456789abcdef`;

{
  const roster = new Roster();
  roster.update([
    { room: "garden", visibility: "public", role: "owner", unread: 3, mention: true },
    { room: "vault", visibility: "private", role: "member", unread: 2 },
    { room: dm, dm: true, with: "bob", unread: 4 },
    { room: "noisy", visibility: "public", role: null, unread: null },
  ]);
  const unreadBefore = roster.unreadElsewhere("garden");
  const markedGarden = roster.markRead("garden");
  const markedAgain = roster.markRead("garden");
  roster.add({ room: "pond", visibility: "public", role: "owner", dm: false, topic: "ducks" });
  roster.add({ room: "vault", visibility: "private", role: "owner" });
  roster.remove("noisy");
  results.roster = {
    isDm: [isDm(dm), isDm("garden"), isDm(null)],
    labels: [roster.label("garden"), roster.label(dm), roster.label(`${dm}0`)],
    headings: [roster.heading("garden"), roster.heading(dm)],
    private: [roster.isPrivate("vault"), roster.isPrivate("garden"), roster.isPrivate(dm)],
    unreadBefore, markedGarden, markedAgain, unreadAfter: roster.unreadElsewhere("pond"),
    rooms: roster.mine.map((entry) => entry.room),
  };
}

{
  const roster = new Roster();
  roster.update([{ room: "garden", role: "moderator" }, { room: "lobby", role: "member" }]);
  let current = "garden";
  const members = { room: "garden", members: new Map([["me", "moderator"], ["owner1", "owner"], ["mod2", "moderator"],
    ["member1", "member"]]) };
  const may = new Permissions({ me: "me", roster, members, current: () => current });
  const moderate = ["owner1", "mod2", "member1", "stranger", "me"].map((user) => may.mayModerate(user));
  const msg = (sender, extra = {}) => ({ id: "1", room: "garden", sender, ...extra });
  const del = [msg("me"), msg("member1"), msg("owner1"), msg("member1", { deleted: true }),
    msg("member1", { room: "lobby" })].map((m) => may.mayDelete(m));
  current = "lobby";
  const inLobby = [may.myRole(), may.mayModerate("member1")];
  may.admin = true;
  current = "garden";
  const asAdmin = [may.mayModerate("owner1"), may.mayDelete(msg("owner1"))];
  current = dm;
  const inDm = may.mayModerate("bob");
  results.permissions = { moderate, del, inLobby, asAdmin, inDm };
}

{
  const sent = [];
  const banners = [];
  let open = true;
  const requests = new RoomRequests({
    send: (frame) => { if (open) sent.push(frame.action); return open; },
    banner: (text) => banners.push(text),
    label: (room) => `#${room}`,
  });
  requests.request({ action: "kick", room: "garden", user: "bob" }, { room: "garden", user: "bob" });
  requests.request({ action: "kick", room: "pond", user: "carol" }, { room: "pond", user: "carol" });
  requests.request({ action: "rooms" }, { quiet: true });
  const settledPond = requests.settle(["kick"], (entry) => entry.room === "pond")?.user;
  requests.failed({ type: "error", action: "kick", code: "forbidden", message: "moderators only" });
  requests.failed({ type: "error", action: "rooms", code: "rate_limited", message: "slow down" });
  requests.failed({ type: "error", action: "members", code: "rate_limited", message: "slow down" });
  requests.failed({ type: "error", action: "leave", code: "not_found", message: "no" });
  const dialog = { isOpen: true, errors: [], showError(text) { this.errors.push(text); } };
  requests.request({ action: "unban", room: "garden", user: "dave" }, { room: "garden", user: "dave", dialog });
  requests.failed({ type: "error", action: "unban", code: "not_found", message: "not banned" });
  open = false;
  requests.request({ action: "invite", room: "garden", user: "erin" });
  requests.request({ action: "members", room: "garden" }, { quiet: true });
  requests.request({ action: "invite", room: "garden", user: "erin" });
  requests.reset();
  results.requests = { sent, settledPond, banners, dialogErrors: dialog.errors,
    pendingAfterReset: requests.pending.length };
}

results.done = [
  doneWords({ action: "kick", user: "bob" }, "#garden"),
  doneWords({ action: "ban", user: "bob" }, "#garden"),
  doneWords({ action: "setrole", user: "bob", role: "owner" }, "#garden"),
  doneWords({ action: "setrole", user: "bob", role: "moderator" }, "#garden"),
  doneWords({ action: "leave" }, "your conversation with bob"),
  doneWords({ action: "somethingnew" }, "#garden"),
];
console.log(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def results():
    urls = [module_url(name) for name in ("rooms/roster.js", "rooms/permissions.js", "rooms/requests.js",
                                          "rooms/rooms.js")]
    return run_node(HARNESS, json.dumps(urls))


def test_the_roster_names_rooms_as_people_read_them(results):
    roster = results["roster"]
    assert roster["isDm"] == [True, False, False]
    assert roster["labels"] == ["#garden", "your conversation with bob", "this direct conversation"]
    assert roster["headings"] == [{"sigil": "#", "name": "garden"}, {"sigil": "@", "name": "bob"}]
    assert roster["private"] == [True, False, False]


def test_unread_counts_leave_out_the_room_shown_and_a_read_room(results):
    roster = results["roster"]
    assert roster["unreadBefore"] == 2 + 4  # garden's own 3 and noisy's unknown count left out
    assert roster["markedGarden"] is True and roster["markedAgain"] is False
    assert roster["unreadAfter"] == 2 + 4


def test_a_room_made_is_listed_first_once(results):
    assert results["roster"]["rooms"] == ["pond", "garden", "vault", DM]


def test_moderators_act_only_on_those_ranked_below_them(results):
    permissions = results["permissions"]
    # owner1, mod2 (the same rank), member1, someone with no role, oneself.
    assert permissions["moderate"] == [False, False, True, True, False]
    # Their own, a member's, the owner's, one deleted already, one of another room.
    assert permissions["del"] == [True, True, False, False, False]


def test_the_role_comes_from_the_roster_outside_the_member_list(results):
    assert results["permissions"]["inLobby"] == ["member", False]


def test_a_site_admin_outranks_the_owner_but_not_in_a_direct_conversation(results):
    assert results["permissions"]["asAdmin"] == [True, True]
    assert results["permissions"]["inDm"] is False


def test_requests_settle_oldest_first_and_refusals_are_said_where_they_belong(results):
    requests = results["requests"]
    assert requests["sent"] == ["kick", "kick", "rooms", "unban"]
    assert requests["settledPond"] == "carol"
    assert requests["banners"] == [
        "Not allowed: moderators only.",
        # rooms and members fail in silence; a refusal of nothing this page asked for is still said.
        "You are not a member of this room.",
        "Not connected: try again once the page has reconnected.",
        "Not connected: try again once the page has reconnected.",
    ]
    assert requests["dialogErrors"] == ["dave is not banned from #garden."]
    assert requests["pendingAfterReset"] == 0


def test_a_room_action_done_is_said_in_words(results):
    assert results["done"] == [
        "bob was removed from #garden.",
        "bob is banned from #garden until you lift the ban.",
        "bob is now the owner of #garden.",
        "bob is now a moderator of #garden.",
        "You left your conversation with bob.",
        "Done.",
    ]

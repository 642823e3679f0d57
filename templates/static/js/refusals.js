// Clear words for the server's refusals and removals (docs/protocol.md "Rooms and moderation"):
// the page branches on the error's code, never on its text; the server's own message is added only
// where it says something the code does not (which role, which limit).

// "the 26 Nov, 08:15" style, in the reader's own clock and language.
export function formatUntil(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function untilWords(until, forever) {
  return until ? `until ${formatUntil(until)}` : forever;
}

// `label`: how the room reads to people ("#garden", "your conversation with bob").
export function bannedWords(label, until) {
  return `You are banned from ${label} ${untilWords(until, "until a moderator lifts the ban")}.`;
}

export function mutedWords(label, until) {
  return `You are muted in ${label} ${untilWords(until, "for now")}: your message was not sent (it is back in the box).`;
}

// Why a join (or a connect) was refused.
export function joinRefusal(frame, label) {
  switch (frame.code) {
    case "forbidden":
      return `Could not open ${label}: it is a private room, and you are not a member `
        + "(ask its owner or a moderator to invite you).";
    case "banned":
      return `Could not open ${label}. ${bannedWords(label, frame.until)}`;
    default:
      return `Could not switch to ${label}: ${frame.message}.`;
  }
}

// Why a room action (create, invite, direct message, moderation, delete) was refused. `what`
// describes the action ({action, room label, user}).
export function actionRefusal(frame, { action, label = "this room", user = "" } = {}) {
  switch (frame.code) {
    case "forbidden":
      return `Not allowed: ${frame.message}.`;
    case "room_exists":
      return `A room named ${label} exists already: pick another name.`;
    case "not_found":
      if (action === "deletemessage") return "That message is gone already.";
      if (action === "leave") return `You are not a member of ${label}.`;
      if (action === "unban") return `${user} is not banned from ${label}.`;
      return `There is no user named ${user}.`;
    case "invalid_room":
    case "bad_request":
      return `That did not work: ${frame.message}.`;
    case "rate_limited":
      return "Too many room actions at once: wait a moment and try again.";
    case "unavailable":
      return "The server could not do that just now: try again.";
    default:
      return `That did not work: ${frame.message}.`;
  }
}

// A removal frame (kicked, banned) from the room shown.
export function removalWords(frame, label) {
  const who = frame.by ?? "A moderator";
  if (frame.type === "banned") {
    return `${who} banned you from ${label} ${untilWords(frame.until, "until the ban is lifted")}.`;
  }
  return `${who} removed you from ${label}.`;
}

// Why an edit or a reaction was refused (the end of a sentence).
export function messageActionRefusal(frame) {
  switch (frame.code) {
    case "rate_limited":
      return "too many at once; wait a moment and try again.";
    case "not_found":
      return "that message is gone.";
    default:
      return `${frame.message}.`;
  }
}

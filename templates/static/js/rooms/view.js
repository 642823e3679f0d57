// Rendering for rooms: the sidebar's lists, the public directory and the member list. DOM only,
// every name and topic as text (render.js element()); rooms/ decides what to show.
import { config } from "../config.js";
import { element } from "../render.js";

// A room's name as people read it: "#garden", or the other person's name for a direct conversation.
export function roomLabel(entry) {
  return entry.dm ? (entry.with ?? "direct conversation") : `#${entry.room}`;
}

// A dot before a person's name: filled while any of their connections is open (in any room), hollow
// otherwise; its words are for screen readers (the colour is not the only sign: the shape differs).
export function presenceDot(online) {
  const dot = element("span", online ? "presence-dot online" : "presence-dot offline");
  dot.append(element("span", "visually-hidden", online ? "online, " : "offline, "));
  return dot;
}

// entries: [{room, dm, with, visibility, online}] in the order to show; `current`: the room shown.
export function renderRoomList(list, entries, current, onOpen) {
  // A keyboard user on a link keeps their place when the list is drawn again.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.room : null;
  list.replaceChildren(...entries.map((entry) => {
    const item = element("li", entry.room === current ? "current" : "");
    const link = element("button", "room-link");
    link.type = "button";
    link.dataset.room = entry.room;
    link.append(element("span", "hash", entry.dm ? "@" : "#"));
    link.firstChild.setAttribute("aria-hidden", "true");
    // A DM's other person: online or not (the rooms frame says; unknown for a DM not yet listed).
    if (entry.dm && typeof entry.online === "boolean") link.append(presenceDot(entry.online));
    const name = element("span", "room-link-name", entry.dm ? (entry.with ?? "direct conversation") : entry.room);
    if (entry.room === current) {
      name.id = "current-room";
      link.setAttribute("aria-current", "page");
    }
    link.append(name);
    if (!entry.dm && entry.visibility === "private") link.append(" ", element("span", "tag", "private"));
    if (entry.notMember) link.append(" ", element("span", "tag", "visiting"));
    // Unread messages (the server's count), marked when one mentions the user; none for the room shown.
    // A room the server did not count (unread null: too many rooms with news) shows only a mention.
    const counted = Number.isInteger(entry.unread);
    if (entry.room !== current && (entry.unread > 0 || (!counted && entry.mention))) {
      // The server stops counting at unreadMax: the badge then says that many, with a "+".
      const count = !counted ? "@"
        : config.unreadMax && entry.unread >= config.unreadMax ? `${entry.unread}+` : String(entry.unread);
      const badge = element("span", entry.mention ? "unread-badge mention" : "unread-badge", count);
      badge.append(element("span", "visually-hidden", entry.mention ? " unread, with a mention of you" : " unread"));
      link.append(" ", badge);
      item.classList.add("unread");
    }
    link.addEventListener("click", () => onOpen(entry.room));
    item.append(link);
    return item;
  }));
  if (focused) list.querySelector(`.room-link[data-room="${CSS.escape(focused)}"]`)?.focus();
}

// "5 min ago", "3 h ago", or the date, for a room's last activity.
export function activityWords(iso, now = Date.now()) {
  if (!iso) return "no messages yet";
  const minutes = Math.round((now - Date.parse(iso)) / 60_000);
  if (minutes < 1) return "active just now";
  if (minutes < 60) return `active ${minutes} min ago`;
  if (minutes < 24 * 60) return `active ${Math.round(minutes / 60)} h ago`;
  return `active ${new Date(iso).toLocaleDateString([], { month: "short", day: "numeric" })}`;
}

// entries: the directory's rooms [{room, topic, online, lastActivityAt}], already filtered.
export function renderDirectory(list, entries, current, onOpen) {
  list.replaceChildren(...entries.map((entry) => {
    const item = element("li", "directory-entry");
    const open = element("button", "directory-open");
    open.type = "button";
    open.dataset.room = entry.room;
    const head = element("span", "directory-name");
    head.append(element("span", "hash", "#"), entry.room);
    head.firstChild.setAttribute("aria-hidden", "true");
    open.append(head);
    if (entry.topic) open.append(element("span", "directory-topic", entry.topic));
    const facts = `${entry.online} online · ${activityWords(entry.lastActivityAt)}`;
    open.append(element("span", "directory-facts", entry.room === current ? `${facts} · you are here` : facts));
    open.addEventListener("click", () => onOpen(entry.room));
    item.append(open);
    return item;
  }));
}

// rows: [{user, role, online}]; menuFor(row): a MenuButton's root, or null when there is nothing
// the user may do to that person. A row that did not change keeps its node, so that a menu open in
// it (or the focus on its button) survives presence and member updates.
export function renderMembers(list, rows, me, menuFor, canAct) {
  const old = new Map([...list.children].map((node) => [node.dataset.user, node]));
  list.replaceChildren(...rows.map((row) => {
    const signature = `${row.role}|${row.online}|${canAct(row)}`;
    const kept = old.get(row.user);
    if (kept && kept.dataset.signature === signature) return kept;
    const item = element("li", row.user === me ? "member me" : "member");
    item.dataset.user = row.user;
    item.dataset.signature = signature;
    const info = element("span", "member-info");
    info.append(presenceDot(!!row.online), element("span", "member-name", row.user === me ? `${row.user} (you)` : row.user));
    if (row.role) info.append(" ", element("span", `role role-${row.role}`, row.role));
    item.append(info);
    const menu = menuFor(row);
    if (menu) item.append(menu);
    return item;
  }));
}

// One moderation log entry in words: "bob banned eve for 60 min".
export function modlogWords(entry) {
  const { actor, target } = entry;
  switch (entry.action) {
    case "ban":
      return `${actor} banned ${target} ${entry.minutes ? `for ${entry.minutes} min` : "until the ban is lifted"}`;
    case "mute":
      return `${actor} muted ${target} for ${entry.minutes} min`;
    case "kick":
      return `${actor} kicked ${target}`;
    case "unban":
      return `${actor} lifted ${target}'s ban`;
    case "invite":
      return `${actor} invited ${target}`;
    case "setrole":
      return entry.role === "owner" ? `${actor} handed the room over to ${target}` : `${actor} made ${target} a ${entry.role}`;
    case "deletemessage":
      return `${actor} deleted a message by ${target}`;
    default:
      return `${actor}: ${entry.action}${target ? ` (${target})` : ""}`;
  }
}

// entries: the moderation log, newest first; when is said in the reader's own clock.
export function renderModlog(list, entries) {
  list.replaceChildren(...entries.map((entry) => {
    const item = element("li", "modlog-entry");
    const when = element("time", "modlog-when", new Date(entry.at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }));
    when.dateTime = entry.at;
    item.append(when, element("span", "modlog-what", modlogWords(entry)));
    return item;
  }));
}

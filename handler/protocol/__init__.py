"""The wschat wire protocol: every message shape, limit and validation rule, with no I/O.

Client frames are JSON objects with an ``action``; server frames are JSON objects with a ``type``.
``docs/protocol.md`` describes the same shapes for people; keep the two in step.

Parsing raises :class:`ProtocolError`, whose ``code`` is one of :class:`ErrorCode` and whose
message is safe to show the client. Builders return plain dicts; :func:`encode` turns one into a
frame.

The package, by topic; each module imports only those above it:

    wire.py             frame limits, Action, ErrorCode, SessionEnd, ProtocolError, Request,
                        parse_request, encode, iso_utc; error, heartbeat and session-end frames;
                        refusal (forbidden, muted, banned)
    names.py            room names and the default room, usernames and password lengths, message
                        ids (and cursors in time), direct conversations' room names
    identity.py         Identity: who is on a connection (the $connect authorizer's context)
    messages.py         sendmessage, join, history; the message, welcome, history and presence
                        frames; Keep and fill_to_budget (every list frame fits FRAME_BUDGET_BYTES)
    message_actions.py  edits, reactions (and what one emoji is), replies' quotes, typing, renew
    reads.py            read markers, unread counts, mentions
    rooms.py            rooms and moderation: visibilities, roles, their requests and frames
    contract.py         client_contract(): the patterns and limits the web client shares

Every public name is re-exported here, so callers write ``protocol.X`` or
``from handler.protocol import X`` whatever module holds X.
"""

from handler.protocol.wire import (
    FRAME_MAX_BYTES, FRAME_BUDGET_BYTES, JSON_MAX_DEPTH, Action, ErrorCode, SessionEnd, ProtocolError, Request,
    parse_request, answered_action, known_action, check_text, encode, iso_utc, heartbeat_frame, error_frame,
    session_end_frame, refusal,
)
from handler.protocol.names import (
    DEFAULT_ROOM, ROOM_PATTERN, USERNAME_PATTERN, PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS, MESSAGE_ID_TIME_DIGITS,
    MESSAGE_ID_PATTERN, DM_PREFIX, validate_room, is_valid_username, is_message_id, message_id_field,
    new_message_id, message_id_at, message_id_ms, is_dm_room, dm_room,
)
from handler.protocol.identity import Identity
from handler.protocol.messages import (
    MESSAGE_MAX_CHARS, MESSAGE_MAX_BYTES, CLIENT_MSG_ID_MAX_CHARS, ONLINE_MAX_NAMES, MENTIONS_MAX, HISTORY_ON_JOIN,
    HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, SendMessage, Join, HistoryQuery, parse_send_message, message_text,
    parse_join, parse_history, message_frame, Keep, welcome_frame, presence_frame, history_frame, fill_to_budget,
    activity_frame,
)
from handler.protocol.message_actions import (
    REACTION_KINDS_MAX, REACTION_USERS_MAX, REACTION_NAMES_SHOWN, EMOJI_MAX_CHARS, EMOJI_MAX_BYTES,
    REPLY_EXCERPT_CHARS, TYPING_INTERVAL_SECONDS, EditMessage, React, Typing, Renew, parse_edit_message,
    parse_react, parse_typing, parse_renew, is_emoji, reply_excerpt, reply_ref, deleted_reply_ref, reactions_list,
    edited_frame, reaction_frame, typing_frame, renewed_frame,
)
from handler.protocol.reads import (
    UNREAD_MAX, MENTION_PATTERN, READ_AHEAD_MS, Read, parse_read, mentions, mention_key, read_frame,
)
from handler.protocol.rooms import (
    ROOM_VISIBILITIES, ROLE_RANKS, ADMIN_RANK, SETTABLE_ROLES, TOPIC_MAX_CHARS, MODERATION_MAX_MINUTES,
    ROOMS_MINE_MAX, DIRECTORY_PAGE, MEMBERS_PAGE, MODLOG_PAGE, DIRECTORY_CURSOR_PATTERN, CreateRoom, RoomUser,
    RoomOnly, DeleteMessage, parse_create_room, parse_room_user, parse_set_role, parse_ban, parse_mute, parse_dm,
    parse_room_only, parse_rooms, parse_delete_message, room_frame, invited_frame, done_frame, kicked_frame,
    banned_frame, muted_frame, deleted_frame, tombstone_frame, rooms_frame, members_frame, modlog_frame,
)
from handler.protocol.contract import client_contract

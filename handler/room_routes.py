"""Entry points of the rooms and moderation routes: one function each (`rooms`, `moderation`),
serving several routes, dispatched by the route key (which API Gateway takes from the action)."""

from handler import protocol
from handler.app import app
from handler.entry import websocket_routes
from handler.protocol import Action

ROOMS = {
    Action.CREATE_ROOM: lambda s, cid, who, r: s.create_room(cid, who, protocol.parse_create_room(r)),
    Action.INVITE: lambda s, cid, who, r: s.invite(cid, who, protocol.parse_room_user(r)),
    Action.LEAVE: lambda s, cid, who, r: s.leave(cid, who, protocol.parse_room_only(r)),
    Action.DM: lambda s, cid, who, r: s.dm(cid, who, protocol.parse_dm(r)),
    Action.ROOMS: lambda s, cid, who, r: s.list_rooms(cid, who, protocol.parse_rooms(r)),
    Action.MEMBERS: lambda s, cid, who, r: s.members(cid, who, protocol.parse_room_only(r)),
}

MODERATION = {
    Action.SET_ROLE: lambda s, cid, who, r: s.set_role(cid, who, protocol.parse_set_role(r)),
    Action.KICK: lambda s, cid, who, r: s.kick(cid, who, protocol.parse_room_user(r)),
    Action.BAN: lambda s, cid, who, r: s.ban(cid, who, protocol.parse_ban(r)),
    Action.UNBAN: lambda s, cid, who, r: s.unban(cid, who, protocol.parse_room_user(r)),
    Action.MUTE: lambda s, cid, who, r: s.mute(cid, who, protocol.parse_mute(r)),
    Action.DELETE_MESSAGE: lambda s, cid, who, r: s.delete_message(cid, who, protocol.parse_delete_message(r)),
    Action.MODLOG: lambda s, cid, who, r: s.modlog(cid, who, protocol.parse_room_only(r)),
}

rooms = websocket_routes("rooms", ROOMS, lambda chat: app().room_service(chat))
moderation = websocket_routes("moderation", MODERATION, lambda chat: app().moderation(chat))

"""The chat service: what the WebSocket routes, the sweep and logout do, as collaborators the
composition root (handler/app.py) builds once per management endpoint and holds in one `Chat`
(service.py). Entry modules ask it for the one they need.

    service.py          Chat: the collaborators of one endpoint, side by side
    connections.py      $connect (admitting a connection) and join
    messaging.py        sendmessage, history, the mentions a message records, fanout's batch, heartbeat
    message_actions.py  editmessage, react, typing, renew
    departures.py       $disconnect, connections found gone, joined/left announcements, presence follow-ups
    housekeeping.py     the sweep, logout, ending a connection, settling evictions and mutes
    replies.py          answering a connection (reply, reply_error) and posting to a user's connections
    rate_limits.py      spending a per-user budget, or refusing with rate_limited
    live_connections.py the live connection of a request (expired sessions ended), and who may send
    admission.py        whether a user may be in a room (private rooms, bans) and their mute there
    quotes.py           what a reply quotes, and a page's quotes as the quoted messages are now
    message_frames.py   a stored message's frame
    refusals.py         ConnectRefused: why $connect refused a connection (the entry maps it to a status)
    side_pool.py        the thread pool reads run on beside a write

Nothing here knows API Gateway's event shapes or botocore: entry points turn events into calls,
and the collaborators raise ProtocolError for anything the client got wrong. This module imports
nothing, so that importing `handler.chat.refusals` (the entry layer) loads no chat code.
"""

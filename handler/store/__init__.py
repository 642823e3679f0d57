"""The data layer: the only code that talks to DynamoDB.

    dynamo.py        what every store shares: attribute values, errors, one pager, read counting
    connections.py   ConnectionStore: open connections (ActiveConnections), room audiences, evict and mute
    followups.py     FollowUpStore: the sweep's work list (due rows beside the connections)
    sessions.py      SessionStore: SessionHistory rows, each token's session deadline
    messages.py      MessageStore: messages (MessageHistory) as data; edits, reactions, tombstones, pages
    accounts.py      AccountsStore: users, limit counters, revoked tokens
    rooms.py         RoomsStore: rooms, memberships, bans, mutes, the moderation log, the directory
    read_markers.py  MarkerStore: read markers and mentions (Rooms table)
    refresh.py       RefreshStore: refresh-token families
    budgets.py       BudgetStore: per-user rate budgets

Tables are defined once, in the stack files (serverless.yml and its includes); stores take their
names from Settings. Every call that runs per message or per connection is a GetItem, PutItem,
UpdateItem, DeleteItem or a Query on one partition; nothing scans.
"""

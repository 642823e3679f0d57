"""The data layer: the only code that talks to DynamoDB.

    dynamo.py    what every store shares: attribute values, errors, one pager, read counting
    chat.py      ChatStore: connections, sessions, messages
    accounts.py  AccountsStore: users, limit counters, revoked tokens

Tables are defined once, in the stack files (serverless.yml and its includes); stores take their
names from Settings. Every call that runs per message or per connection is a GetItem, PutItem,
UpdateItem, DeleteItem or a Query on one partition; nothing scans.
"""

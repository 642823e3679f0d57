"""A stand-in for IAM: each AWS call a function makes is checked against its role, as AWS would.

Neither moto, DynamoDB Local, serverless-offline's @connections API nor its Lambda API checks IAM,
so a missing grant would otherwise show only on AWS. When this is on (the unit tests, and the local
stack through WSCHAT_ENFORCE_IAM), the composition root wraps every AWS client it builds or is
given, and a call that the function's role does not grant fails as AWS fails it:

    DynamoDB, Lambda, SSM   botocore's ClientError, code AccessDeniedException (HTTP 400 / 403 / 400)
    @connections            an HTTP 403 answer with x-amzn-ErrorType AccessDeniedException

The grants come from a policy document that devstack/iam.py resolves from the stack files (each
role's own policies and the managed policies attached to it) for one stage and account:

    {"functions": {"connect": [["dynamodb:PutItem", "arn:aws:dynamodb:...:table/wschat-local-..."], ...], ...},
     "deployedNames": {"connect": "wschat-local-connect", ...}, "roles": {"connect": "ConnectRole", ...},
     "partition": "aws", "account": "000000000000", "websocketApi": "local", "stage": "local"}

Each call becomes the (action, resource ARN) pairs IAM authorizes it by (`needs`):

    DynamoDB   dynamodb:<Operation> on table/<name>, or table/<name>/index/<index> for a Query or Scan
               of an index; a batch on each of its tables; a transaction's parts by their own actions
    Lambda     lambda:InvokeFunction (Invoke) on function:<name>[:<qualifier>]
    SSM        ssm:<Operation> on parameter/<name>, each name of a GetParameters call
    @connections  execute-api:ManageConnections on <api-id>/<stage>/<METHOD>/@connections/<id>

A call this module cannot map is refused too (UnknownCall), so new code cannot slip past it: teach
`needs` the new operation instead.

Whose role applies: the function named by `acting_as` (the unit tests wrap each entry point in it),
else the process's own function (AWS_LAMBDA_FUNCTION_NAME, which sls offline sets per function);
with neither, the call is not checked (test code setting up or inspecting state). Observers
(`observe`) see every checked call: the unit tests fail a test that met a refusal it did not ask
for, and tests/stack derives what each role must grant from the calls its scenarios make.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Iterator, Mapping

from handler import log
from handler.errors import WschatError
from handler.transport import Response

POLICY_VERSION = 1
# The service prefixes this module checks; a role's other grants (logs, sqs) are used by Lambda itself.
SERVICES = ("dynamodb", "execute-api", "lambda", "ssm")


class UnknownCall(WschatError):
    """Raised when a call cannot be mapped to the IAM action and resource it needs (teach `needs`)."""


@dataclass(frozen=True)
class Call:
    """One checked call: which function's role, what it needed, whether the role grants it."""

    function: str
    action: str
    resource: str
    allowed: bool


# -- the policy --------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern:
    """IAM's wildcards: `*` any run of characters (`/` and `:` included), `?` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


class Policy:
    """Each function's Allow grants as (action, resource pattern), and where the patterns point."""

    def __init__(
        self, grants: Mapping[str, Iterable[Iterable[str]]], *, partition: str = "aws", account: str,
        websocket_api: str, stage: str, deployed_names: Mapping[str, str] | None = None,
        roles: Mapping[str, str] | None = None,
    ):
        self.grants = {function: [(str(a), str(r)) for a, r in pairs] for function, pairs in grants.items()}
        self.partition = partition
        self.account = account
        self.websocket_api = websocket_api
        self.stage = stage
        self.deployed_names = dict(deployed_names or {})
        self.roles = dict(roles or {})
        self._by_deployed_name = {name: function for function, name in self.deployed_names.items()}

    @classmethod
    def from_document(cls, document: Mapping) -> "Policy":
        if document.get("version") != POLICY_VERSION:
            raise ValueError(f"IAM policy document version {document.get('version')!r}, expected {POLICY_VERSION}")
        return cls(
            document["functions"], partition=document.get("partition", "aws"), account=document["account"],
            websocket_api=document["websocketApi"], stage=document["stage"],
            deployed_names=document.get("deployedNames"), roles=document.get("roles"),
        )

    @classmethod
    def from_file(cls, path: str) -> "Policy":
        with open(path, encoding="utf-8") as handle:
            return cls.from_document(json.load(handle))

    def function_of(self, deployed_name: str | None) -> str | None:
        """The stack's name of a function (`connect`) from its Lambda name (`wschat-local-connect`)."""
        if deployed_name is None:
            return None
        return self._by_deployed_name.get(deployed_name, deployed_name)

    def allows(self, function: str, action: str, resource: str) -> bool:
        return any(
            matches(granted_action, action, ignore_case=True) and matches(pattern, resource)
            for granted_action, pattern in self.grants.get(function, ())
        )

    def principal(self, function: str) -> str:
        """The assumed-role ARN AWS names in a denial."""
        role = self.roles.get(function, "no-role")
        name = self.deployed_names.get(function, function)
        return f"arn:{self.partition}:sts::{self.account}:assumed-role/{role}/{name}"


# -- whose role applies ------------------------------------------------------------------------------

# A plain list, not a context variable: sendmessage reads a room's members on a side thread
# (handler/chat.py), and that read is the function's too. One invocation runs at a time per process.
_acting: list[str] = []
_observers: list[Callable[[Call], None]] = []
_lock = threading.Lock()


@contextlib.contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Check calls made meanwhile against `function`'s role (an entry point's invocation)."""
    with _lock:
        _acting.append(function)
    try:
        yield
    finally:
        with _lock:
            _acting.pop()


def acting() -> str | None:
    with _lock:
        return _acting[-1] if _acting else None


@contextlib.contextmanager
def observe(callback: Callable[[Call], None]) -> Iterator[None]:
    """Tell `callback` about every call checked meanwhile, allowed or not."""
    with _lock:
        _observers.append(callback)
    try:
        yield
    finally:
        with _lock:
            _observers.remove(callback)


# -- what a call needs -------------------------------------------------------------------------------


def _pascal(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


_TRANSACT_PARTS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


class Arns:
    """ARNs of the resources calls name, in the policy's partition and account and the client's region."""

    def __init__(self, policy: Policy, region: str):
        self.policy = policy
        self.region = region

    def _arn(self, service: str, resource: str, region: str | None = None) -> str:
        return f"arn:{self.policy.partition}:{service}:{region or self.region}:{self.policy.account}:{resource}"

    def table(self, name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            return name + (f"/index/{index}" if index else "")
        return self._arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))

    def function(self, name: str, qualifier: str | None = None) -> str:
        arn = name if name.startswith("arn:") else self._arn("lambda", f"function:{name}")
        return arn + (f":{qualifier}" if qualifier else "")

    def parameter(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return self._arn("ssm", "parameter/" + name.split(":", 1)[0].lstrip("/"))

    def connection(self, method: str, url: str) -> str | None:
        """The @connections resource of a management API URL; None if the URL is not one.

        An API Gateway URL (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}) names its
        API, region and stage; any other host is the local stack's stand-in for this stage's API.
        """
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return None
        prefix, marker, connection_id = parts.path.rpartition("/@connections/")
        if not marker:
            return None
        api, region, stage = self.policy.websocket_api, self.region, self.policy.stage
        labels = host.split(".")
        if len(labels) >= 4 and labels[1] == "execute-api":
            api, region = labels[0], labels[2]
            stage = prefix.strip("/")
        connection_id = urllib.parse.unquote(connection_id)
        return self._arn("execute-api", f"{api}/{stage}/{method.upper()}/@connections/{connection_id}", region)


def needs(service: str, operation: str, request: Mapping, arns: Arns) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one SDK call (`operation` as boto3 names it)."""
    if service == "dynamodb":
        return _dynamodb_needs(operation, request, arns)
    if service == "lambda":
        action = "lambda:InvokeFunction" if operation in ("invoke", "invoke_async", "invoke_with_response_stream") \
            else "lambda:" + _pascal(operation)
        if "FunctionName" not in request:
            raise UnknownCall(f"lambda {operation}: no FunctionName")
        return [(action, arns.function(str(request["FunctionName"]), request.get("Qualifier")))]
    if service == "ssm":
        action = "ssm:" + _pascal(operation)
        if "Names" in request:
            return [(action, arns.parameter(str(name))) for name in request["Names"]]
        if "Name" in request:
            return [(action, arns.parameter(str(request["Name"])))]
        raise UnknownCall(f"ssm {operation}: no Name or Names")
    raise UnknownCall(f"no IAM mapping for {service} {operation}")


def _dynamodb_needs(operation: str, request: Mapping, arns: Arns) -> list[tuple[str, str]]:
    action = "dynamodb:" + _pascal(operation)
    if operation in ("batch_write_item", "batch_get_item"):
        return [(action, arns.table(str(table))) for table in request.get("RequestItems", {})]
    if operation in ("transact_write_items", "transact_get_items"):
        pairs = []
        for item in request.get("TransactItems", []):
            for part, body in item.items():
                if part not in _TRANSACT_PARTS:
                    raise UnknownCall(f"dynamodb {operation}: unknown part {part}")
                pairs.append(("dynamodb:" + _TRANSACT_PARTS[part], arns.table(str(body["TableName"]))))
        return pairs
    if "TableName" not in request:
        raise UnknownCall(f"dynamodb {operation}: no TableName")
    index = request.get("IndexName") if operation in ("query", "scan") else None
    return [(action, arns.table(str(request["TableName"]), index))]


# -- the check ---------------------------------------------------------------------------------------


class Enforcer:
    """Checks calls against a Policy; wraps clients so that their calls are checked.

    enforce=False records without refusing (tests/stack uses it to see what the code calls).
    """

    def __init__(self, policy: Policy, *, region: str, function: str | None = None, enforce: bool = True):
        self.policy = policy
        self.arns = Arns(policy, region)
        self.own_function = policy.function_of(function)
        self.enforce = enforce

    def function(self) -> str | None:
        return acting() or self.own_function

    def check(self, function: str, pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
        """The first (action, resource) the role does not grant, or None; every pair is reported."""
        denied = None
        for action, resource in pairs:
            allowed = self.policy.allows(function, action, resource)
            _notify(Call(function, action, resource, allowed))
            if not allowed and denied is None:
                denied = (action, resource)
        if denied and self.enforce:
            log.error("IAM: the role does not grant this call", action=denied[0], resource=denied[1],
                      iamFunction=function)
            return denied
        return None

    def denial_message(self, function: str, action: str, resource: str) -> str:
        return (f"User: {self.policy.principal(function)} is not authorized to perform: {action} on resource: "
                f"{resource} because no identity-based policy allows the {action} action")

    def unknown(self, function: str, service: str, operation: str, exc: UnknownCall) -> UnknownCall:
        _notify(Call(function, f"{service}:?{operation}", str(exc), False))
        log.error("IAM: a call with no known mapping", service=service, operation=operation, iamFunction=function)
        return exc

    # -- wrappers ------------------------------------------------------------------------------------

    def client(self, service: str, client):
        """A boto3-style client (or the lean DynamoDB client, or a test fake) whose calls are checked."""
        return _PolicedClient(self, service, client)

    def transport(self, transport):
        """The signed-HTTP transport, with its @connections requests checked."""
        return _PolicedTransport(self, transport)


def _notify(call: Call) -> None:
    with _lock:
        observers = list(_observers)
    for callback in observers:
        callback(call)


# HTTP status of an AccessDeniedException per service, as each answers it.
_DENIED_STATUS = {"dynamodb": 400, "lambda": 403, "ssm": 400}
# Attributes that make no AWS call. Paginators and waiters call the client underneath this wrapper,
# so they are refused (UnknownCall) rather than let through unchecked.
_PASS_THROUGH = frozenset({"meta", "exceptions", "can_paginate", "close"})


class _PolicedClient:
    def __init__(self, enforcer: Enforcer, service: str, client):
        self._enforcer = enforcer
        self._service = service
        self._client = client

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in _PASS_THROUGH or not callable(attribute):
            return attribute
        enforcer, service = self._enforcer, self._service

        def call(*args, **request):
            function = enforcer.function()
            if function is None:
                return attribute(*args, **request)
            try:
                if name in ("get_paginator", "get_waiter"):
                    raise UnknownCall(f"{service} {name}: its calls would go around the check; call the operation")
                if args:
                    raise UnknownCall(f"{service} {name}: only keyword calls are checked")
                pairs = needs(service, name, request, enforcer.arns)
            except UnknownCall as exc:
                raise enforcer.unknown(function, service, name, exc) from None
            denied = enforcer.check(function, pairs)
            if denied is not None:
                from botocore.exceptions import ClientError

                raise ClientError({
                    "Error": {"Code": "AccessDeniedException",
                              "Message": enforcer.denial_message(function, *denied)},
                    "ResponseMetadata": {"HTTPStatusCode": _DENIED_STATUS.get(service, 403)},
                }, _pascal(name))
            return attribute(*args, **request)

        return call


class _PolicedTransport:
    """Checks execute-api requests (@connections posts and deletes); other services do not pass here."""

    def __init__(self, enforcer: Enforcer, transport):
        self._enforcer = enforcer
        self._transport = transport

    def __getattr__(self, name: str):
        return getattr(self._transport, name)

    def _denied(self, function: str, service: str, method: str, url: str) -> Response | None:
        if service != "execute-api":
            raise self._enforcer.unknown(function, service, method, UnknownCall(
                f"{service} through the transport: only execute-api is checked here"))
        resource = self._enforcer.arns.connection(method, url)
        if resource is None:
            return None  # not a management API URL: no request to API Gateway to authorize
        denied = self._enforcer.check(function, [("execute-api:ManageConnections", resource)])
        if denied is None:
            return None
        body = json.dumps({"Message": self._enforcer.denial_message(function, *denied)}).encode()
        return Response(403, {"content-type": "application/json", "x-amzn-errortype": "AccessDeniedException"}, body)

    def request(self, service, method, url, body=b"", headers=None, retryable=None):
        function = self._enforcer.function()
        if function is not None:
            refused = self._denied(function, service, method, url)
            if refused is not None:
                return refused
        return self._transport.request(service, method, url, body, headers, retryable=retryable)

    def request_many(self, service, method, urls, body, headers, deadline):
        function = self._enforcer.function()
        if function is None:
            return self._transport.request_many(service, method, urls, body, headers, deadline)
        answers = [self._denied(function, service, method, url) for url in urls]
        allowed = [url for url, answer in zip(urls, answers) if answer is None]
        sent = iter(self._transport.request_many(service, method, allowed, body, headers, deadline) if allowed else [])
        return [answer if answer is not None else next(sent) for answer in answers]

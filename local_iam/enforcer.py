"""The check: each call against the role of the function making it, and the wrappers that put the
check around a boto3-style client and around the signed-HTTP transport (@connections)."""

from __future__ import annotations

import json

from handler import log
from handler.transport import Response
from local_iam.acting import Call, acting, notify
from local_iam.needs import Arns, UnknownCall, api_operation, needs
from local_iam.policy import Policy


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
            notify(Call(function, action, resource, allowed))
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
        notify(Call(function, f"{service}:?{operation}", str(exc), False))
        log.error("IAM: a call with no known mapping", service=service, operation=operation, iamFunction=function)
        return exc

    # -- wrappers ------------------------------------------------------------------------------------

    def client(self, service: str, client):
        """A boto3-style client (or the lean DynamoDB client, or a test fake) whose calls are checked."""
        return _PolicedClient(self, service, client)

    def transport(self, transport):
        """The signed-HTTP transport, with its @connections requests checked."""
        return _PolicedTransport(self, transport)


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
                }, api_operation(name))
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

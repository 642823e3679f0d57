"""Each function's grants, as the policy document stackfiles/grants.py writes them, and IAM's
wildcard matching of actions and resources."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Iterable, Mapping

# The version of the document stackfiles/grants.py writes (stackfiles.grants.POLICY_VERSION).
POLICY_VERSION = 1


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

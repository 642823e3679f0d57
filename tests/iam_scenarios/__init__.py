"""Each function's representative scenarios, run through its entry point under the IAM harness.

A scenario drives one function the way API Gateway, EventBridge or Lambda would, down each path that
makes a different AWS call: success, the limits, the members found gone, the session that expired,
the secret read from SSM (never inline here). Two tests run them:

- tests/unit/test_iam.py, enforcing the roles resolved from the stack files: no scenario meets a
  refusal, and each still does what it should.
- tests/stack/test_packaged_stack.py, recording (nothing refused) what each function called, then
  comparing with the packaged template: every call granted, and every grant used by some scenario
  (or named, with its reason, in that test's allow-list).

So a new code path with a new AWS call needs a scenario here, and a new grant needs a call that uses
it. Everything runs in moto (DynamoDB, SSM), a fake @connections API and a fake Lambda API
(`world.py`). The scenarios are grouped by family of functions: `accounts.py` (the HTTP API and the
authorizer), `connections.py`, `messages.py`, `message_actions.py`, `rooms.py`, `background.py`
(fanout, sweep); `registry.py` holds them by function, and `run()` below runs them.
"""

from __future__ import annotations

from moto import mock_aws

from handler.auth import passwords
from handler import app as app_module
import local_iam as iam
from tests import iam_harness
from tests.iam_scenarios.registry import CALLS_NOTHING, SCENARIOS, scenario
from tests.iam_scenarios.world import ACCOUNT, API_ID, REGION, World

# Imported for what they do: each family registers its scenarios in SCENARIOS.
from tests.iam_scenarios import accounts, background, connections, message_actions, messages, rooms  # noqa: E402,F401,I001

__all__ = ["ACCOUNT", "API_ID", "CALLS_NOTHING", "REGION", "SCENARIOS", "World", "run", "scenario"]


def run(stage: str, policy: iam.Policy, *, enforce: bool, functions: list[str] | None = None) -> iam_harness.Recorder:
    """Run the scenarios of `functions` (all by default) in a fresh moto world; return every checked call.

    Password hashing runs at a low cost here (the cost is not what these scenarios are about).
    """
    iam_harness.wrap_entry_points()
    recorder = iam_harness.Recorder()
    saved_cost, passwords.N = passwords.N, 2**10
    try:
        with iam.observe(recorder):
            for function in functions or sorted(SCENARIOS):
                for each in SCENARIOS[function]:
                    with mock_aws():  # a world of its own for each scenario
                        world = World(stage, iam.Enforcer(policy, region=REGION, enforce=enforce)).create()
                        try:
                            each(world)
                        except AssertionError as exc:
                            raise AssertionError(f"scenario {function}/{each.__name__}: {exc}") from exc
    finally:
        passwords.N = saved_cost
        app_module.install(None)
    return recorder

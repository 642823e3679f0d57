"""BudgetStore against moto's DynamoDB: per-subject rate budgets kept as one conditional update."""

import pytest

from handler.limits import Budget
from handler.settings import Settings
from handler.store.budgets import TTL_SLACK_SECONDS, BudgetStore
from handler.store.dynamo import ConditionFailed, ReadCounter
from tests.unit.conftest import STAGE

T0 = 1_795_000_000_000
LIMITS = f"wschat-{STAGE}-Limits"


def budget_store(client) -> BudgetStore:
    return BudgetStore(client, Settings.from_env().tables, ReadCounter())


@pytest.fixture
def budgets(dynamodb):
    return budget_store(dynamodb)


def item(dynamodb, key):
    return dynamodb.get_item(TableName=LIMITS, Key={"key": {"S": key}}, ConsistentRead=True).get("Item")


def test_a_burst_then_one_per_interval_with_the_wait_until_the_next(budgets):
    budget = Budget(burst=3, rate=2)  # one every 500 ms
    assert [budgets.spend("message", "alice", budget, T0) for _ in range(3)] == [None, None, None]
    assert budgets.spend("message", "alice", budget, T0) == 500
    assert budgets.spend("message", "alice", budget, T0 + 200) == 300
    assert budgets.spend("message", "alice", budget, T0 + 500) is None
    assert budgets.spend("message", "alice", budget, T0 + 500) == 500
    # An idle minute fills the budget again, but no further than the burst.
    assert [budgets.spend("message", "alice", budget, T0 + 60_000) for _ in range(4)] == [None, None, None, 500]


def test_subjects_and_kinds_have_budgets_of_their_own(budgets):
    one = Budget(burst=1, rate=1)
    assert budgets.spend("message", "alice", one, T0) is None
    assert budgets.spend("message", "alice", one, T0) == 1000
    assert budgets.spend("message", "bob", one, T0) is None
    assert budgets.spend("join", "alice", one, T0) is None
    assert budgets.spend("presence", "room#alice", one, T0) is None


def test_processes_share_one_budget_and_never_spend_the_last_place_twice(dynamodb):
    budget = Budget(burst=5, rate=1)
    stores = [budget_store(dynamodb) for _ in range(4)]  # four Lambda processes
    answers = [stores[i % 4].spend("message", "alice", budget, T0) for i in range(20)]
    assert answers.count(None) == 5


def test_the_item_holds_the_state_and_expires_after_it(budgets, dynamodb):
    budget = Budget(burst=2, rate=0.5)
    budgets.spend("join", "alice", budget, T0)
    stored = item(dynamodb, "budget#join#alice")
    assert int(stored["tat"]["N"]) == T0 + 2000
    latest_tat = T0 + budget.tolerance_ms + budget.interval_ms
    assert int(stored["ttl"]["N"]) == latest_tat // 1000 + TTL_SLACK_SECONDS


def test_an_item_ttl_has_not_removed_yet_counts_as_a_full_budget(budgets, dynamodb):
    dynamodb.put_item(TableName=LIMITS, Item={
        "key": {"S": "budget#message#alice"}, "tat": {"N": str(T0 - 3_600_000)}, "ttl": {"N": str(T0 // 1000 - 3000)},
    })
    budget = Budget(burst=2, rate=1)
    assert [budgets.spend("message", "alice", budget, T0) for _ in range(3)] == [None, None, 1000]


def test_the_note_is_what_the_last_allowed_action_wrote(budgets):
    one = Budget(burst=1, rate=0.2)
    assert budgets.note("presence", "r#alice") is None
    assert budgets.spend("presence", "r#alice", one, T0, note="joined") is None
    assert budgets.spend("presence", "r#alice", one, T0 + 1000, note="left") == 4000
    assert budgets.note("presence", "r#alice") == "joined"  # the refused one wrote nothing
    assert budgets.spend("presence", "r#alice", one, T0 + 5000, note="left") is None
    assert budgets.note("presence", "r#alice") == "left"


def test_an_item_that_vanishes_between_the_two_writes_costs_one_interval(budgets, monkeypatch):
    def update(operation, key, **request):  # both conditions fail, and the second saw no item
        raise ConditionFailed(operation, item=None)

    monkeypatch.setattr(budgets.limits, "update", update)
    assert budgets.spend("message", "alice", Budget(burst=3, rate=4), T0) == 250

"""IAM through the real local stack: each function's process checks its calls against its own role
from the stack files (local_iam/, set up by devstack/stack.py), and refuses what AWS would."""

import json

import pytest
import requests

from devstack.local_stage import Ports
from devstack.stack import LocalStack
from tests.integration.conftest import unique_name

USERS_TABLE = "arn:aws:dynamodb:us-east-1:000000000000:table/wschat-local-Users"


def test_the_stack_runs_every_function_under_its_role(stack):
    env = stack.function_env()
    assert env["WSCHAT_ENFORCE_IAM"] == "true" and env["WSCHAT_IAM_POLICY_FILE"] == str(stack.iam_policy_file)
    document = json.loads(stack.iam_policy_file.read_text())
    assert document["stage"] == "local" and document["deployedNames"]["register"] == "wschat-local-register"
    # The chat works under the roles: every integration test here runs through them.
    name = unique_name()
    response = requests.post(f"{stack.http_url}/register", json={"username": name, "password": "iam-pw-1234"}, timeout=30)
    assert response.status_code == 201, response.text


def _without_register_put(document: dict) -> dict:
    document["functions"]["register"] = [grant for grant in document["functions"]["register"]
                                         if grant != ["dynamodb:PutItem", USERS_TABLE]]
    return document


@pytest.fixture(scope="module")
def narrowed_stack():
    # Register's role without PutItem on Users; guest has its own function but the same role in the
    # stack files, and keeps it here: the check is per function, as each Lambda assumes its role.
    local = LocalStack(ports=Ports.free(), data_dir=None, iam_edit=_without_register_put)
    with local:
        yield local


def test_a_call_the_role_does_not_grant_is_refused_as_aws_refuses_it(narrowed_stack):
    response = requests.post(f"{narrowed_stack.http_url}/register",
                             json={"username": unique_name(), "password": "iam-pw-1234"}, timeout=30)
    assert response.status_code == 503, response.text  # DynamoDB's AccessDeniedException, as on AWS
    assert requests.post(f"{narrowed_stack.http_url}/guest", timeout=30).status_code == 201
    log = (narrowed_stack.log_dir / f"offline-{narrowed_stack.ports.ws}.log").read_text(errors="replace")
    assert "IAM: the role does not grant this call" in log and USERS_TABLE in log

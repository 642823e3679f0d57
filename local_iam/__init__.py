"""A stand-in for IAM where AWS is emulated: each AWS call a function makes is checked against its
role, as AWS would. Local only: never in the Lambda package (serverless.yml's package.patterns).

Neither moto, DynamoDB Local, serverless-offline's @connections API nor its Lambda API checks IAM,
so a missing grant would otherwise show only on AWS. When this is on (the unit tests, and the local
stack through WSCHAT_ENFORCE_IAM), the composition root wraps every AWS client it builds or is
given, and a call that the function's role does not grant fails as AWS fails it:

    DynamoDB, Lambda, SSM   botocore's ClientError, code AccessDeniedException (HTTP 400 / 403 / 400)
    @connections            an HTTP 403 answer with x-amzn-ErrorType AccessDeniedException

The grants come from a policy document that stackfiles/grants.py resolves from the stack files (each
role's own policies and the managed policies attached to it) for one stage and account:

    {"functions": {"connect": [["dynamodb:PutItem", "arn:aws:dynamodb:...:table/wschat-local-..."], ...], ...},
     "deployedNames": {"connect": "wschat-local-connect", ...}, "roles": {"connect": "ConnectRole", ...},
     "partition": "aws", "account": "000000000000", "websocketApi": "local", "stage": "local"}

Each call becomes the (action, resource ARN) pairs IAM authorizes it by (`needs`, needs.py).
A call this module cannot map is refused too (UnknownCall), so new code cannot slip past it: teach
`needs` the new operation instead.

Whose role applies: the function named by `acting_as` (the unit tests wrap each entry point in it),
else the process's own function (AWS_LAMBDA_FUNCTION_NAME, which sls offline sets per function);
with neither, the call is not checked (test code setting up or inspecting state). Observers
(`observe`) see every checked call: the unit tests fail a test that met a refusal it did not ask
for, and tests/stack derives what each role must grant from the calls its scenarios make.

    policy.py    the grants of each function (Policy) and IAM's wildcard matching
    needs.py     what each call needs: the (action, resource ARN) pairs IAM authorizes it by
    acting.py    whose role applies (acting_as), and who watches the checks (observe)
    enforcer.py  the check, and the wrappers that put it around clients and the transport

Only handler/app.py imports this package (lazily, when settings.iam.enforce is on), and the tests.
"""

from local_iam.acting import Call, acting, acting_as, observe
from local_iam.enforcer import Enforcer
from local_iam.needs import SERVICES, Arns, UnknownCall, needs
from local_iam.policy import POLICY_VERSION, Policy, matches

__all__ = ["POLICY_VERSION", "SERVICES", "Arns", "Call", "Enforcer", "Policy", "UnknownCall", "acting", "acting_as",
           "matches", "needs", "observe"]

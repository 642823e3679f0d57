"""ops/deploy-role/deploy-role.yml, the role the deploy workflow assumes through GitHub's OIDC, held to
the packaged template: every resource the stack creates can be created, updated and deleted with it,
on the ARN that resource will have; the calls `make deploy` makes around CloudFormation are granted;
nothing reaches outside the stage's names, and the role cannot widen itself.

A role built from a partial list fails the first deploy half-way and rolls back (SQS,
EventBridge, managed policies, iam:PassRole, lambda:PutFunctionEventInvokeConfig were missing)."""

import re
import subprocess
from pathlib import Path

import pytest

import local_iam as iam
from stackfiles.config import read_yaml
from tests.stack.conftest import STAGE, WHERE

ROOT = Path(__file__).resolve().parents[2]
ROLE_FILE = ROOT / "ops/deploy-role/deploy-role.yml"
REPOSITORY = "octo-org/wschat"
PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": WHERE.region, "AWS::AccountId": WHERE.account,
              "Stage": STAGE, "Repository": REPOSITORY, "Environment": "prod"}
REGIONAL = f"arn:aws:%s:{WHERE.region}:{WHERE.account}:"
GLOBAL = f"arn:aws:%s::{WHERE.account}:"
API = "arn:aws:apigateway:" + WHERE.region + "::/apis/a1b2c3"
# A name CloudFormation generates for a resource without one: the stack's name, the logical id, a suffix.
SUFFIX = "1A2B3C4D5E6F"

CREATE_UPDATE_DELETE = {
    "AWS::Lambda::Function": ["lambda:CreateFunction", "lambda:GetFunction", "lambda:UpdateFunctionCode",
                              "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction", "lambda:TagResource",
                              "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"],
    "AWS::Lambda::Permission": ["lambda:AddPermission", "lambda:RemovePermission"],
    "AWS::Lambda::EventInvokeConfig": ["lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig",
                                       "lambda:DeleteFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:GetRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
                       "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
                       "iam:TagRole"],
    "AWS::IAM::ManagedPolicy": ["iam:CreatePolicy", "iam:GetPolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion",
                                "iam:DeletePolicyVersion", "iam:ListPolicyVersions", "iam:GetPolicyVersion",
                                "iam:ListEntitiesForPolicy"],
    "AWS::DynamoDB::Table": ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
                             "dynamodb:DeleteTable", "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTimeToLive",
                             "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeContinuousBackups",
                             "dynamodb:TagResource"],
    "AWS::Logs::LogGroup": ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"],
    "AWS::Logs::MetricFilter": ["logs:PutMetricFilter", "logs:DeleteMetricFilter"],
    "AWS::SQS::Queue": ["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:DeleteQueue",
                        "sqs:TagQueue"],
    "AWS::Events::Rule": ["events:PutRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets",
                          "events:ListTargetsByRule", "events:DeleteRule"],
    "AWS::S3::Bucket": ["s3:CreateBucket", "s3:PutEncryptionConfiguration", "s3:DeleteBucket", "s3:ListBucket"],
    "AWS::S3::BucketPolicy": ["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"],
    "AWS::ApiGatewayV2::Api": ["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"],
    "AWS::ApiGatewayV2::Stage": ["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE",
                                 "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                                 "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                                 "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
    "AWS::CloudWatch::Alarm": ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
    "AWS::CloudWatch::Dashboard": ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
    "AWS::SNS::Topic": ["sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:DeleteTopic",
                        "sns:TagResource"],
    "AWS::SNS::Subscription": ["sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes"],
}
for _type in ("Route", "RouteResponse", "Integration", "Authorizer", "Deployment"):
    CREATE_UPDATE_DELETE[f"AWS::ApiGatewayV2::{_type}"] = ["apigateway:POST", "apigateway:GET", "apigateway:PATCH",
                                                          "apigateway:DELETE"]

# Around CloudFormation: the framework (the stack, the bucket's objects), ops/predeploy.py, build_site.py.
STACK = REGIONAL % "cloudformation" + f"stack/wschat-{STAGE}/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
AROUND = [
    (["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks",
      "cloudformation:DescribeStackEvents", "cloudformation:DescribeStackResource", "cloudformation:ListStackResources",
      "cloudformation:GetTemplate", "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
      "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet"], STACK),
    (["cloudformation:ValidateTemplate", "lambda:GetAccountSettings"], "*"),
    (["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
     f"arn:aws:s3:::wschat-{STAGE}-serverlessdeploymentbucket-{SUFFIX.lower()}/serverless/wschat/{STAGE}/x/wschat.zip"),
    (["ssm:GetParameter"], REGIONAL % "ssm" + f"parameter/wschat/{STAGE}/jwt-secret"),
    (["apigateway:GET"], f"arn:aws:apigateway:{WHERE.region}::/account"),
    (["lambda:GetFunctionConcurrency"], REGIONAL % "lambda" + f"function:wschat-{STAGE}-sweep"),
]
# Actions that take no resource, or whose resource is not the stage's (documented as such by AWS).
ANY_RESOURCE = {"cloudformation:ValidateTemplate", "cloudformation:ListExports", "lambda:GetAccountSettings",
                "logs:DescribeLogGroups", "logs:DescribeMetricFilters", "logs:CreateLogDelivery", "logs:GetLogDelivery",
                "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies"}


def render(value):
    """A policy value with the template's parameters and pseudo parameters in place."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: PARAMETERS[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def role() -> dict:
    return render(read_yaml(ROLE_FILE)["Resources"]["DeployRole"]["Properties"])


@pytest.fixture(scope="module")
def statements(role) -> list[dict]:
    (policy,) = role["Policies"]
    return policy["PolicyDocument"]["Statement"]


def granted(statements, action: str, resource: str) -> bool:
    return any(statement["Effect"] == "Allow"
               and any(iam.matches(a, action, ignore_case=True) for a in as_list(statement["Action"]))
               and any(iam.matches(r, resource) for r in as_list(statement["Resource"]))
               for statement in statements)


def as_list(value):
    return value if isinstance(value, list) else [value]


def arn(name: str, resource: dict, resources: dict) -> str:
    """The ARN a template resource will have (a name CloudFormation generates when it has none)."""
    props, type_ = resource.get("Properties", {}), resource["Type"]
    generated = f"wschat-{STAGE}-{name}-{SUFFIX}"
    if type_.startswith("AWS::Lambda::"):
        function = props.get("FunctionName")
        if isinstance(function, dict):  # a GetAtt or Ref of the function's logical id
            target = (function.get("Fn::GetAtt") or [function.get("Ref")])[0]
            function = resources[target]["Properties"]["FunctionName"]
        return REGIONAL % "lambda" + f"function:{function}"
    if type_.startswith("AWS::ApiGatewayV2::"):
        return {"AWS::ApiGatewayV2::Api": API}.get(type_, API + "/" + type_.rsplit(":", 1)[1].lower() + "s/x1y2z3")
    names = {
        "AWS::IAM::Role": lambda: GLOBAL % "iam" + f"role/{props.get('RoleName', generated)}",
        "AWS::IAM::ManagedPolicy": lambda: GLOBAL % "iam" + f"policy/{props.get('ManagedPolicyName', generated)}",
        "AWS::DynamoDB::Table": lambda: REGIONAL % "dynamodb" + f"table/{props['TableName']}",
        "AWS::Logs::LogGroup": lambda: REGIONAL % "logs" + f"log-group:{props['LogGroupName']}",
        "AWS::Logs::MetricFilter": lambda: REGIONAL % "logs" + f"log-group:{log_group(props['LogGroupName'], resources)}",
        "AWS::SQS::Queue": lambda: REGIONAL % "sqs" + props.get("QueueName", generated),
        "AWS::Events::Rule": lambda: REGIONAL % "events" + f"rule/{props.get('Name', generated)}",
        "AWS::S3::Bucket": lambda: f"arn:aws:s3:::{props.get('BucketName', generated.lower())}",
        "AWS::S3::BucketPolicy": lambda: f"arn:aws:s3:::wschat-{STAGE}-serverlessdeploymentbucket-{SUFFIX.lower()}",
        "AWS::CloudWatch::Alarm": lambda: REGIONAL % "cloudwatch" + f"alarm:{props.get('AlarmName', generated)}",
        # A dashboard needs a name of the stage's (CloudFormation's own has no stack prefix).
        "AWS::CloudWatch::Dashboard": lambda: GLOBAL % "cloudwatch" + f"dashboard/{props['DashboardName']}",
        "AWS::SNS::Topic": lambda: REGIONAL % "sns" + props.get("TopicName", generated),
        "AWS::SNS::Subscription": lambda: REGIONAL % "sns" + f"wschat-{STAGE}-AlarmTopic-{SUFFIX}",
    }
    return names[type_]()


def log_group(value, resources: dict) -> str:
    if isinstance(value, dict):  # a Ref of a log group of the stack
        return resources[value["Ref"]]["Properties"]["LogGroupName"]
    return value


def test_every_resource_the_stack_creates_can_be_created_updated_and_deleted(template, statements):
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert not types - set(CREATE_UPDATE_DELETE), "resource types ops/deploy-role/ was not checked for: " + \
        str(sorted(types - set(CREATE_UPDATE_DELETE)))
    missing = []
    for name, resource in template["Resources"].items():
        for action in CREATE_UPDATE_DELETE[resource["Type"]]:
            where = "*" if action in ANY_RESOURCE else arn(name, resource, template["Resources"])
            if not granted(statements, action, where):
                missing.append((name, action, where))
        if resource["Type"] == "AWS::Lambda::Function":  # created with its role: passed to Lambda
            role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
            if not granted(statements, "iam:PassRole", arn(role, template["Resources"][role], template["Resources"])):
                missing.append((name, "iam:PassRole", role))
    assert missing == [], "the deploy role cannot:\n" + "\n".join(map(str, missing))


def test_the_calls_around_cloudformation_are_granted(statements):
    missing = [(action, resource) for actions, resource in AROUND for action in actions
               if not granted(statements, action, resource)]
    assert missing == []


def test_nothing_outside_the_stages_names(statements):
    for statement in statements:
        assert statement["Effect"] == "Allow" and set(statement) <= {"Effect", "Action", "Resource", "Condition"}
        for action in as_list(statement["Action"]):
            assert "*" not in action, action
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                assert set(as_list(statement["Action"])) <= ANY_RESOURCE, statement["Action"]
            elif "apigateway" not in resource:
                assert f"wschat-{STAGE}" in resource or f"wschat/{STAGE}/" in resource, resource


def test_the_role_cannot_widen_itself_or_hand_out_more(role, statements):
    own = GLOBAL % "iam" + f"role/{role['RoleName']}"
    for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole"):
        assert not granted(statements, action, own), action
    passing = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
    assert passing and all(s["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
                           for s in passing)
    attaching = [s for s in statements if "iam:AttachRolePolicy" in as_list(s["Action"])]
    assert attaching and all(s["Condition"]["ArnLike"]["iam:PolicyARN"] == GLOBAL % "iam" + f"policy/wschat-{STAGE}-*"
                             for s in attaching)


def test_only_the_deploy_job_of_this_repository_can_assume_it(role):
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": GLOBAL % "iam" + "oidc-provider/token.actions.githubusercontent.com"}
    # StringEquals, not StringLike: no wildcard lets another repository, branch or pull request in.
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:prod"}}
    workflow = (ROOT / ".github/workflows/deploy.yml").read_text()
    assert "environment: prod" in workflow and "secrets.AWS_DEPLOY_ROLE_ARN" in workflow


def test_the_role_template_passes_cfn_lint():
    result = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), "--", str(ROLE_FILE)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

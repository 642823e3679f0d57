"""Reading the stack files (serverless.yml and the infra/*.yml it includes) without Node, for the
local stack, the site build, the tools and the tests; nothing deployed reads them.

    config.py          serverless.yml as the framework reads it: includes, merged fragments, variables
    tables.py          the DynamoDB tables' definitions
    cloudformation.py  a template's intrinsics and the statements that apply to a role
    grants.py          each function's IAM grants, and the policy document the local IAM stand-in reads
"""

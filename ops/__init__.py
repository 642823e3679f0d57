"""Tools for deployed stages, run from a checkout with Python and boto3 only (no Node, no Java):

    secret.py  `make secret`: a stage's JWT secret in SSM Parameter Store, created or rotated
    admin.py   `make admin`: a member made a site admin of a stage, or no longer one
    region.py  the one rule for the AWS region every wschat tool uses (`REGION_OF` in the Makefile)
"""

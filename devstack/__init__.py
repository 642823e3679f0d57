"""Local development stack for wschat: DynamoDB Local + serverless-offline, driven from Python."""

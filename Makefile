# wschat: `make dev` runs the chat locally, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= prod
export SLS_TELEMETRY_DISABLED := 1

.PHONY: dev test unit integration browser deps package lint secret bench soak clean

dev: deps
	$(PY) -m devstack dev

test: deps
	$(PY) -m pytest

unit: deps
	$(PY) -m pytest tests/unit

integration: deps
	$(PY) -m pytest tests/integration

deps: $(VENV)/.installed node_modules/.installed
	@command -v java >/dev/null || { echo "make: Java is missing (DynamoDB Local needs it): apt-get install default-jre-headless"; exit 1; }

# Reinstalled only when the requirement files change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund
	touch $@

# Fan-out and latency figures through the local stack (docs/performance.md); takes several minutes.
bench: deps
	$(PY) -m bench

# Load through the local stack: 100 clients, 10 rooms, 10,000 messages (docs/reliability.md).
soak: deps
	$(PY) -m bench.soak

# The deployable artifact for a stage (no AWS account needed): .serverless/
package: deps
	AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 npx sls package --stage $(STAGE)

lint: package
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- .serverless/cloudformation-template-update-stack.json

# The JWT secret of a deployed stage, in SSM Parameter Store (needs AWS credentials).
secret: deps
	$(PY) -m devstack secret --stage $(STAGE) $(if $(ROTATE),--rotate)

clean:
	rm -rf .serverless .cache .pytest_cache

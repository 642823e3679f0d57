# wschat: `make dev` runs the chat locally, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= prod
export SLS_TELEMETRY_DISABLED := 1

.PHONY: dev test unit integration browser deps system-deps package lint deploy predeploy secret secret-deps bench soak clean admin

# System packages `deps` checks for (scripts/system-deps.sh installs the missing ones as root with
# apt-get, or stops with the command to run). Chromium is only for the browser tests.
SYSTEM_NEEDS := python node java chromium
dev unit integration package lint: SYSTEM_NEEDS := python node java

dev: deps
	$(PY) -m devstack dev

test: deps
	$(PY) -m pytest

unit: deps
	$(PY) -m pytest tests/unit

integration: deps
	$(PY) -m pytest tests/integration

browser: deps
	$(PY) -m pytest tests/browser

deps: system-deps $(VENV)/.installed node_modules/.installed

system-deps:
	@PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/system-deps.sh $(SYSTEM_NEEDS)

# Reinstalled only when the requirement files change; after the system packages (order-only).
$(VENV)/.installed: requirements.txt requirements-dev.txt | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json .npmrc | system-deps
	npm ci --no-audit --no-fund
	touch $@

# Fan-out and latency figures through the local stack (docs/performance.md); takes several minutes.
bench: deps
	$(PY) -m bench

# Load through the local stack: 100 clients, 10 rooms, 10,000 messages (docs/reliability.md).
soak: deps
	$(PY) -m bench.soak

# The region of every AWS command below, one rule everywhere (ops/region.py): the stage's own in
# ops/regions.json (prod: whoever deploys it, CI or a laptop; a REGION that contradicts it is
# refused), else REGION, AWS_REGION, AWS_DEFAULT_REGION, the active profile's region, us-east-1.
# Standard library only.
REGION_OF = $(PYTHON) -m ops.region --stage $(STAGE) $(if $(REGION),--region $(REGION))

# The deployable artifact for a stage (no AWS account needed): .serverless/
#   make package STAGE=prod     (WSCHAT_SITE_ORIGIN set: prod has no default)
#   make package STAGE=dev [REGION=eu-west-1]
package: deps
	@region="$$($(REGION_OF))" && \
		AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x npx sls package --stage $(STAGE) --region "$$region"

# Deploy a stage (needs AWS credentials and the stage's secret, `make secret`; docs/deploy.md).
#   WSCHAT_SITE_ORIGIN=https://<owner>.github.io make deploy STAGE=prod   (REGION=...: stages not in ops/regions.json)
# The region is resolved here, the profile's included (which sls alone cannot see), and passed to
# sls: the stack lands where `make secret` put the secret and where build_site.py looks for it.
# `predeploy` runs first and stops the deploy when the site's origin, the secret in that region,
# API Gateway's logging role or Lambda's concurrency would fail it on AWS (ops/predeploy.py).
deploy: SYSTEM_NEEDS := python node
deploy: system-deps node_modules/.installed predeploy
	@region="$$($(REGION_OF))" && echo "make deploy: stage $(STAGE) in $$region" && \
		npx sls deploy --stage $(STAGE) --region "$$region"

# What `make deploy` checks before deploying; read-only AWS calls. Python and boto3 only.
#   make predeploy STAGE=prod
predeploy: secret-deps
	$(PY) -m ops.predeploy --stage $(STAGE) $(if $(REGION),--region $(REGION))

lint: package
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- .serverless/cloudformation-template-update-stack.json

# The JWT secret of a deployed stage in SSM Parameter Store (needs AWS credentials; docs/deploy.md).
#   make secret STAGE=prod [ROTATE=1 [GRACE=7200] [FORCE=1]]   (REGION=...: stages not in ops/regions.json)
# Needs only Python and boto3: not Java, not npm, not the test toolchain.
# The stage's own region (ops/regions.json), else REGION, AWS_REGION, AWS_DEFAULT_REGION, the
# profile's region, us-east-1 (ops/region.py).
enabled = $(filter-out 0 no false,$(1))
secret: secret-deps
	$(PY) -m ops.secret --stage $(STAGE) $(if $(REGION),--region $(REGION)) \
		$(if $(call enabled,$(ROTATE)),--rotate) $(if $(GRACE),--grace-seconds $(GRACE)) $(if $(call enabled,$(FORCE)),--force)

# A .venv with boto3 (the version requirements-dev.txt pins), only if it has none yet.
secret-deps:
	@PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/system-deps.sh python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import boto3' 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check "$$(grep -m1 '^boto3==' requirements-dev.txt)"

# Make a member a site admin of a stage (they moderate every room), or no longer one with REVOKE=1;
# takes effect on their next connection (docs/protocol.md). Needs AWS credentials, except STAGE=local.
#   make admin USER=alice STAGE=prod [REVOKE=1]   (REGION=...: stages not in ops/regions.json)
# USER must be given on the command line: the shell's own $USER is never taken for it.
admin: secret-deps
	@test "$(origin USER)" = "command line" || { echo "make admin: name the user: make admin USER=<name> STAGE=$(STAGE)" >&2; exit 2; }
	$(PY) -m ops.admin --stage $(STAGE) --user "$(USER)" $(if $(REGION),--region $(REGION)) \
		$(if $(call enabled,$(REVOKE)),--revoke)

clean:
	rm -rf .serverless .cache .pytest_cache

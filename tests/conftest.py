import sys
from pathlib import Path

# Tests import handler/, authorizer/ and devstack/ from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402

import pytest  # noqa: E402

# `make test` runs pytest inside make, which exports MAKELEVEL and MAKEFLAGS: a `make` that a test
# runs would then print "Entering directory" lines and inherit the outer make's flags. The tests
# that run make (a dry run of its targets) mean a make started by a person, so they get a clean one.
for _variable in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"):
    os.environ.pop(_variable, None)


def pytest_configure(config):
    # Each worker's local stack signs with this checkout's local secret, which the first stack to
    # start creates: made here once, before the workers start, so that two never race to create it.
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from devstack.stack import jwt_secret

        jwt_secret()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    # What one worker runs as a whole (pytest-xdist's loadgroup; no effect without workers): a test
    # file, so that its own stack starts once; and the whole browser layer, since two Chromiums, each
    # with a stack of its own, on two cores slow pages past the tests' waits.
    for item in items:
        path = item.nodeid.split("::")[0]
        group = "browser" if path.startswith("tests/browser/") else path
        item.add_marker(pytest.mark.xdist_group(group))

"""`make admin` (ops/admin.py): the site admin role on a member's Users row."""

import io

from ops import admin
from tests.unit.conftest import STAGE, accounts


def test_make_admin_gives_and_takes_the_role_of_members_only(api, dynamodb):
    assert accounts().create_user(username="Alice", password_hash="x", guest=False, created_at_ms=0)
    assert accounts().create_user(username="guest-1", password_hash=None, guest=True, created_at_ms=0)
    out, err = io.StringIO(), io.StringIO()
    assert admin.run(STAGE, "alice", region="us-east-1", dynamodb=dynamodb, out=out, err=err) == 0
    assert accounts().is_admin("ALICE") and "Alice" not in err.getvalue()
    assert "alice is a site admin" in out.getvalue()
    assert admin.run(STAGE, "alice", revoke=True, region="us-east-1", dynamodb=dynamodb, out=out, err=err) == 0
    assert not accounts().is_admin("alice")
    assert admin.run(STAGE, "nobody", region="us-east-1", dynamodb=dynamodb, out=out, err=err) == 1
    assert admin.run(STAGE, "guest-1", region="us-east-1", dynamodb=dynamodb, out=out, err=err) == 1
    assert "no member 'nobody'" in err.getvalue() and not accounts().is_admin("guest-1")

"""`make tenant-key` (local/tenant_keys.py) against moto: each action prints what the operator
needs, the new key's value once, and errors as one line on stderr with exit status 1."""

from __future__ import annotations

import re

import pytest

from local import tenant_keys as cli
from tamtam.tenants import create_tenant, key_owner
from tests.integration import seed


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.run(cli.parse(list(argv)))
    out, err = capsys.readouterr()
    return status, out, err


def test_create_list_rotate_revoke_from_the_command(provisioned, capsys):
    tenant = create_tenant("acme", seed.table())

    status, out, _ = run(capsys, "create", "--tenant", tenant.tenant_id, "--name", "billing")
    [value] = re.findall(r"API key (tt_\S+)", out)
    [key_id] = re.findall(r"key (key_\w+), named 'billing'", out)
    assert status == 0 and key_owner(seed.table(), value).tenant_id == tenant.tenant_id

    status, out, _ = run(capsys, "list", "--tenant", tenant.tenant_id)
    assert status == 0 and tenant.key_id in out and key_id in out and value[:11] in out and value not in out

    status, out, _ = run(capsys, "rotate", "--tenant", tenant.tenant_id, "--key", key_id, "--grace", "2h")
    [new_value] = re.findall(r"API key (tt_\S+)", out)
    assert status == 0 and f"The old key {key_id} keeps working until" in out
    assert key_owner(seed.table(), new_value) is not None and key_owner(seed.table(), value) is not None

    status, out, _ = run(capsys, "revoke", "--tenant", tenant.tenant_id, "--key", key_id)
    assert status == 0 and "revoked" in out and key_owner(seed.table(), value) is None


def test_errors_are_one_line_and_exit_1(provisioned, capsys, monkeypatch):
    monkeypatch.setattr(cli, "use_env", lambda env: None)  # the environment is the test's
    monkeypatch.setattr(cli, "local_env", dict)
    tenant = create_tenant("acme", seed.table())

    assert cli.main(["revoke", "--tenant", tenant.tenant_id, "--key", "key_unknown"]) == 1
    assert capsys.readouterr().err == "error: no such key for this tenant\n"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800)])
def test_grace_periods_are_read_with_their_unit(text, seconds):
    assert cli.duration(text) == seconds


def test_an_action_without_what_it_needs_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.parse(["rotate", "--tenant", "ten_x"])
    assert "rotate needs --key" in capsys.readouterr().err

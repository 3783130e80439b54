"""Manage a tenant's API keys: create, list, rotate, revoke (`make tenant-key`).

    python -m local.tenant_keys list   --tenant ten_...                   # its keys, never their values
    python -m local.tenant_keys create --tenant ten_... --name billing    # a new key, printed once
    python -m local.tenant_keys rotate --tenant ten_... --key key_... [--grace 24h]
    python -m local.tenant_keys revoke --tenant ten_... --key key_...
    python -m local.tenant_keys adopt                                     # once: keys made before key ids

Against the running local stack (make run) by default, or AWS with --aws [--env dev]: the table
name comes from the SSM parameter infra/ssm.tf publishes, and your own AWS credentials are used
(they need the tenant and key items of the table). The same operations are served to operators
over HTTP by the IAM-authorized routes /admin/tenants/{tenant_id}/keys (functions/tenant_admin).
A rotated key keeps working for the grace period (default 24h; 0 ends it at once); a revoked key
is refused within 60 s (the authorizer's cache).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from local.tenant import aws_table_env, local_env, use_env

_DURATION = re.compile(r"(\d+)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """Seconds of "90", "90s", "30m", "24h" or "7d"."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 30m, 24h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _row(key: Any) -> str:
    return (f"{key.key_id:<30} {key.name[:20]:<20} {(key.prefix or '?'):<12} {key.status:<9} {key.created_at:<25} "
            f"{key.last_used_at or '-':<25} {key.expires_at or key.revoked_at or '-'}")


def _show_new(api_key: str, key: Any) -> None:
    print(f"API key {api_key}")
    print(f"        key {key.key_id}, named {key.name!r}")
    print("The key is shown only this once: store it now.")


def run(args: argparse.Namespace) -> int:
    from tamtam import aws, tenant_keys
    from tamtam.settings import get_settings

    table = aws.table(get_settings().table_name)
    if args.action == "adopt":
        adopted, left = tenant_keys.adopt_legacy_keys(table)
        print(f"{adopted} key(s) adopted, {left} left (their tenant item is missing)")
        return 0
    if args.action == "list":
        keys = tenant_keys.list_keys(table, args.tenant)
        print(
            f"{'key':<30} {'name':<20} {'prefix':<12} {'status':<9} {'created':<25} {'last used':<25} expires/revoked"
        )
        for key in keys:
            print(_row(key))
    elif args.action == "create":
        created = tenant_keys.create_key(table, args.tenant, args.name)
        _show_new(created.api_key, created.key)
    elif args.action == "rotate":
        grace = tenant_keys.DEFAULT_GRACE_SECONDS if args.grace is None else args.grace
        rotation = tenant_keys.rotate_key(table, args.tenant, args.key, grace)
        _show_new(rotation.key.api_key, rotation.key.key)
        print(f"The old key {rotation.previous.key_id} keeps working until {rotation.previous.expires_at}.")
    else:
        revoked = tenant_keys.revoke_key(table, args.tenant, args.key)
        print(f"key {revoked.key_id} ({revoked.name}) revoked at {revoked.revoked_at}: refused within 60 s")
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.tenant_keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["list", "create", "rotate", "revoke", "adopt"])
    parser.add_argument("--tenant", help="the tenant id (ten_...)")
    parser.add_argument("--name", help="create: the new key's name")
    parser.add_argument("--key", help="rotate, revoke: the key id (key_..., see list)")
    parser.add_argument("--grace", type=duration, default=None,
                        help="rotate: how long the old key keeps working (90s, 30m, 24h, 7d; default 24h)")
    parser.add_argument("--aws", action="store_true", help="against AWS instead of the local stack")
    parser.add_argument("--env", default="dev", help="environment of the AWS deployment (default dev)")
    parser.add_argument("--app", default="tamtam", help="deployment name: first SSM path segment (default tamtam)")
    parser.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    args = parser.parse_args(argv)
    needs = {"list": ["tenant"], "create": ["tenant", "name"], "rotate": ["tenant", "key"],
             "revoke": ["tenant", "key"], "adopt": []}[args.action]
    missing = [f"--{n}" for n in needs if not getattr(args, n)]
    if missing:
        parser.error(f"{args.action} needs {' '.join(missing)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    use_env(aws_table_env(args.app, args.env, args.region) if args.aws else local_env())
    from tamtam.errors import TamtamError

    try:
        return run(args)
    except TamtamError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

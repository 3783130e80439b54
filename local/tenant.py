"""Create a tenant and print its API key once.

    python -m local.tenant --name acme             # against the running local stack (make run)
    python -m local.tenant --name acme --aws       # against AWS: table name from SSM

Locally, the moto endpoint and table come from `.local-stack/state.json`, written by
`python -m local.stack` while it runs (the local API Gateway does not throttle: no usage plan).
On AWS the table name is read from the SSM parameter `/<app>/<env>/table/name` that
infra/ssm.tf publishes, and the usage plan the tenant's API Gateway key joins (its throttling)
from the `UsagePlanId` output of the application's stack `<app>-<env>` (samconfig.toml's
stack_name): the plan belongs to template.yaml, so its id is read where the template puts it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = REPO_ROOT / ".local-stack" / "state.json"


def local_env(state_file: Path = STATE_FILE) -> dict[str, str]:
    """Environment for the running local stack, from its state file."""
    if not state_file.exists():
        raise SystemExit(f"no local stack running ({state_file} not found): start it with `make run`")
    state = json.loads(state_file.read_text())
    return {
        "AWS_ENDPOINT_URL": state["moto_url"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": state["region"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "TABLE_NAME": state["table_name"],
        "_API_URL": state.get("api_url", ""),
        "_USAGE_PLAN_ID": state.get("usage_plan_id") or "",
    }


def aws_table_env(app: str, environment: str, region: str | None) -> dict[str, str]:
    """Environment for real AWS: the table name published by infra/ssm.tf."""
    import boto3

    session = boto3.session.Session(region_name=region) if region else boto3.session.Session()
    name = f"/{app}/{environment}/table/name"
    return {"TABLE_NAME": session.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]}


def aws_env(app: str, environment: str, region: str | None, stack: str | None = None) -> dict[str, str]:
    """Environment for real AWS: the table name published by infra/ssm.tf and the usage plan
    id of the application stack (output UsagePlanId)."""
    import boto3

    session = boto3.session.Session(region_name=region) if region else boto3.session.Session()
    plan = usage_plan_id(session.client("cloudformation"), stack or f"{app}-{environment}")
    return {**aws_table_env(app, environment, region), "_USAGE_PLAN_ID": plan}


def usage_plan_id(cloudformation: Any, stack: str) -> str:
    """The UsagePlanId output of the application stack (`sam deploy` of template.yaml)."""
    [description] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}
    if "UsagePlanId" not in outputs:
        raise SystemExit(f"stack {stack} has no UsagePlanId output: deploy template.yaml first (make deploy)")
    return outputs["UsagePlanId"]


def use_env(env: dict[str, str]) -> None:
    """Point this process's tamtam package (boto3 clients, settings) at `env`."""
    os.environ.update({k: v for k, v in env.items() if not k.startswith("_")})
    layer = str(REPO_ROOT / "layers" / "shared")
    if layer not in sys.path:
        sys.path.append(layer)
    from tamtam import aws, settings

    aws.reset()
    settings.reset_settings()


def create(name: str, env: dict[str, str]) -> Any:
    use_env(env)
    from tamtam.tenants import create_tenant

    return create_tenant(name=name, usage_plan_id=env.get("_USAGE_PLAN_ID") or None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.tenant", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="the tenant's name")
    parser.add_argument("--aws", action="store_true", help="create it in AWS instead of the local stack")
    parser.add_argument("--env", default="dev", help="environment of the AWS deployment (default dev)")
    parser.add_argument("--app", default="tamtam", help="deployment name: first SSM path segment (default tamtam)")
    parser.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    parser.add_argument("--stack", default=None, help="the application stack (default <app>-<env>, as samconfig.toml)")
    parser.add_argument("--api-url", default=None, help="API URL for the example call printed at the end")
    args = parser.parse_args(argv)

    env = aws_env(args.app, args.env, args.region, args.stack) if args.aws else local_env()
    api_url = args.api_url or env.get("_API_URL", "")
    tenant = create(args.name, env)
    print(f"tenant  {tenant.tenant_id} ({args.name}) in table {env['TABLE_NAME']}")
    print(f"API key {tenant.api_key}   (key {tenant.key_id}, named default)")
    print("The key is shown only this once: store it now. More keys, rotation, revocation: make tenant-key.")
    if api_url:
        print(f"\ncurl -s -X POST {api_url.rstrip('/')}/v1/messages -H \"Authorization: Bearer {tenant.api_key}\" \\\n"
              "  -H 'Content-Type: application/json' -d '{\"to\":\"+224622000001\",\"text\":\"Hello from tamtam\"}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())

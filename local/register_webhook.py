"""Register the gateway's SMSGate webhooks: delivery reports (`sms:sent`, `sms:delivered`,
`sms:failed`) and received SMS (`sms:received`: inbound messages and STOP replies).

    python -m local.register_webhook --url https://<api>/<stage>/v1/webhooks/smsgate --aws
    python -m local.register_webhook --url http://127.0.0.1:3000/v1/webhooks/smsgate   # make run

The SMSGate credentials come from the smsgate provider secret, like the sender's: its ARN is
read from the SSM parameter `/<app>/<env>/secrets/smsgate/arn` that infra/ssm.tf publishes
(locally from the running stack's emulated AWS, `.local-stack/state.json`). Each webhook has a
fixed id, so running the command again replaces the registrations instead of adding more.
The real SMSGate only takes https:// URLs; the sandbox also takes http:// on loopback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from local.tenant import REPO_ROOT, local_env

EVENTS = ("sms:sent", "sms:delivered", "sms:failed", "sms:received")


def webhook_id(event: str) -> str:
    """`sms:delivered` -> `tamtam-sms-delivered` (at most 36 characters)."""
    return "tamtam-" + event.replace(":", "-")


def register(client: Any, url: str) -> list[dict[str, Any]]:
    """Register (or replace) one webhook per event with `client` (an SmsGateClient)."""
    return [client.register_webhook(url, event, webhook_id(event)) for event in EVENTS]


def smsgate_secret(app: str, environment: str, region: str | None) -> dict[str, Any]:
    """The smsgate provider secret, found through infra's SSM parameter."""
    import json

    import boto3

    session = boto3.session.Session(region_name=region) if region else boto3.session.Session()
    arn = session.client("ssm").get_parameter(Name=f"/{app}/{environment}/secrets/smsgate/arn")["Parameter"]["Value"]
    value = session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    secret = json.loads(value)
    if not isinstance(secret, dict):
        raise SystemExit("the smsgate secret is not a JSON object")
    return secret


def _client(secret: dict[str, Any]) -> Any:
    layer = str(REPO_ROOT / "layers" / "shared")
    if layer not in sys.path:
        sys.path.append(layer)
    from tamtam.providers.smsgate import SmsGateClient

    return SmsGateClient.from_secret(secret)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.register_webhook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the webhooks function's URL (…/v1/webhooks/smsgate)")
    parser.add_argument(
        "--aws", action="store_true", help="use the AWS deployment's secret instead of the local stack's"
    )
    parser.add_argument("--env", default=None, help="environment (default: dev on AWS, local for make run)")
    parser.add_argument("--app", default="tamtam", help="deployment name: first SSM path segment (default tamtam)")
    parser.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    args = parser.parse_args(argv)

    environment = args.env or ("dev" if args.aws else "local")
    region = args.region
    if not args.aws:
        env = local_env()
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        region = env["AWS_DEFAULT_REGION"]
    client = _client(smsgate_secret(args.app, environment, region))
    for webhook in register(client, args.url):
        print(f"registered {webhook.get('event')} -> {webhook.get('url')} (id {webhook.get('id')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

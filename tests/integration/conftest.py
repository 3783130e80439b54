"""Integration fixtures: a moto server on loopback provisioned from infra/ + template.yaml
(the same definitions that deploy), and the provider sandbox over real HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from local.sandbox.secrets import local_secret
from local.sandbox.server import start_sandbox
from local.stack.moto_server import patch_dynamodb_in_process
from local.stack.resources import provision
from tamtam import aws, health, limits, pacing, routing, tenant_settings
from tamtam.settings import get_settings, reset_settings
from tests.integration import seed, stream

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    patch_dynamodb_in_process()  # no deep copy of the table (and its stream) per transaction
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION
    )
    try:
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def sandbox() -> Iterator:
    server = start_sandbox(port=0)
    try:
        yield server
    finally:
        server.stop()


# The ingest door's configuration (infra/ var.ingest_sources, var.ingest_senders), as an operator
# would give it to `terraform apply`: the events tenant (events/ingest/*.json) may be sent for by
# the source acme.orders, directly by the IAM role of ORDERS_SENDER or on the bus, and by the
# source acme.crm on the bus; acme.orders may also name ten_nobody, a tenant that does not exist.
ORDERS_SENDER = "AROAEXAMPLEORDERS0001"  # the role's unique id, as SQS reports it in SenderId
INGEST_DOOR = {
    "ingest_sources": {"acme.orders": [seed.EVENTS_TENANT, "ten_nobody"], "acme.crm": [seed.EVENTS_TENANT]},
    "ingest_senders": {ORDERS_SENDER: "acme.orders"},
}


@pytest.fixture(scope="session")
def provisioned_once(moto_url: str):
    """infra/ + template.yaml provisioned once per session (it takes seconds)."""
    return provision(moto_url, REGION, environment="test", variables=INGEST_DOOR)


def _empty(result) -> None:
    """Back to an empty table between tests. Queues are not purged (SQS allows one purge a
    minute): tests that look at queues compare counts before and after."""
    table = aws.table(get_settings().table_name)
    with table.batch_writer() as batch:
        for page in table.meta.client.get_paginator("scan").paginate(
            TableName=table.name, ProjectionExpression="pk, sk"
        ):
            for item in page["Items"]:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})


@pytest.fixture
def provisioned(provisioned_once, sandbox, monkeypatch: pytest.MonkeyPatch):
    """Empty AWS resources from the definitions, the function environment applied, and each
    provider secret pointing at this test's sandbox."""
    result = provisioned_once
    for key, value in result.function_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("PACING_ENABLED", "false")  # paced sends have their own tests (test_pacing.py)
    aws.reset()
    reset_settings()
    routing.configured_routes.cache_clear()
    health.reset_cache()
    pacing.reset_cache()
    tenant_settings.reset_cache()  # the table is emptied: no tenant's settings of an earlier test
    limits.reset_leases()  # ... and no send-limit counter: no units leased from one
    _empty(result)
    stream.skip_to_latest()
    sm = aws.client("secretsmanager")
    for provider, secret_id in result.secret_ids.items():
        sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(local_secret(provider, sandbox.url)))
    _clear_secret_cache()
    yield result
    aws.reset()
    reset_settings()


def _clear_secret_cache() -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()

"""Fixtures for the local stack's parts: a real moto server on 127.0.0.1, SQS clients with dummy
credentials, and small handler files written into tmp dirs."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.stack.invoker import FunctionConfig

REGION = "eu-west-1"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    server._server.server_close()  # stop() leaves the listening socket open


@pytest.fixture
def sqs(moto_url: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_url, config=Config(max_pool_connections=20), **CREDS)


@pytest.fixture
def make_queue(sqs: Any) -> Callable[..., tuple[str, str | None]]:
    """(queue url, dlq url or None): a fresh queue with a short visibility timeout."""

    def make(visibility: int = 1, max_receive: int | None = None) -> tuple[str, str | None]:
        name = f"q-{uuid.uuid4().hex[:12]}"
        attrs = {"VisibilityTimeout": str(visibility)}
        dlq_url = None
        if max_receive is not None:
            dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)})
        return sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"], dlq_url

    return make


@pytest.fixture
def make_function(tmp_path: Path) -> Callable[..., FunctionConfig]:
    """Write `source` as handler.py of a new function dir; `{log}` in the source is replaced by
    the path of a JSON-lines file the handler can append to (see `read_log`)."""

    def make(logical_id: str, source: str, **kwargs: Any) -> FunctionConfig:
        code_dir = tmp_path / f"{logical_id}-{uuid.uuid4().hex[:6]}"
        code_dir.mkdir()
        log_file = code_dir / "calls.jsonl"
        (code_dir / "handler.py").write_text(textwrap.dedent(source).replace("{log}", str(log_file)))
        return FunctionConfig(logical_id=logical_id, code_dir=code_dir, **kwargs)

    return make


def _read_log(cfg: FunctionConfig) -> list[Any]:
    path = Path(cfg.code_dir) / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


RECORDER = """
import json, threading
_lock = threading.Lock()

def record(value):
    with _lock, open("{log}", "a") as f:
        f.write(json.dumps(value) + "\\n")
"""


@pytest.fixture
def recorder() -> str:
    """Handler source prefix defining `record(value)`: appends to the function's calls.jsonl."""
    return RECORDER


@pytest.fixture
def read_log() -> Callable[[FunctionConfig], list[Any]]:
    """What a function's `record(...)` calls wrote, in order."""
    return _read_log

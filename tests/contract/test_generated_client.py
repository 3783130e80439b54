"""A Python client generated from the served document (openapi-python-client, in a process of
its own, into a temporary directory) drives the API: what a caller who only has the document
gets. Only the generated models and functions are used, never raw HTTP."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.contract.harness import ContractStack, wait_for, write_document

PACKAGE = "tamtam_contract_client"
# The documented lifecycle (README: "one lifecycle for all providers") and batch states.
MESSAGE_STATUSES = {"queued", "scheduled", "sending", "sent", "delivered", "failed", "expired", "cancelled",
                    "unconfirmed"}
TAKEN = {"sent", "delivered"}  # the provider took the message
BATCH_STATES = {"accepting", "scheduled", "processing", "completed", "aborted"}
TO = "+224622000001"  # Guinea: PasseInfo first (README's routes), a sandbox that takes everything
BULK_TO = ["+224622000011", "+224622000012", "+224622000013"]


@dataclass(frozen=True)
class GeneratedClient:
    package: ModuleType
    directory: Path
    output: str  # the generator's report (its warnings)

    def endpoint(self, method: str, path: str) -> ModuleType:
        """The generated module of one operation, found by what it sends (not by its name,
        which comes from the operationId)."""
        api = self.directory / "api"
        sends = re.compile(rf'"method":\s*"{method.lower()}",\s*"url":\s*"{re.escape(path)}"')
        found = [f for f in sorted(api.rglob("*.py")) if sends.search(f.read_text(encoding="utf-8"))]
        assert len(found) == 1, f"generated modules for {method.upper()} {path}: {found}\n{self.output}"
        relative = found[0].relative_to(self.directory).with_suffix("")
        return importlib.import_module(".".join((PACKAGE, *relative.parts)))

    def model(self, name: str) -> type:
        models = importlib.import_module(f"{PACKAGE}.models")
        assert hasattr(models, name), f"the generated client has no model {name}: {sorted(models.__all__)}"
        return getattr(models, name)


@pytest.fixture(scope="module")
def generated(served_document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedClient]:
    workdir = tmp_path_factory.mktemp("generated-client")
    document = write_document(served_document, workdir / "openapi.json")
    config = workdir / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document), "--meta", "none",
         "--config", str(config), "--output-path", str(workdir / PACKAGE)],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and (workdir / PACKAGE / "__init__.py").is_file(), (
        f"openapi-python-client failed ({result.returncode}):\n{output}")
    sys.path.insert(0, str(workdir))
    try:
        yield GeneratedClient(package=importlib.import_module(PACKAGE), directory=workdir / PACKAGE, output=output)
    finally:
        sys.path.remove(str(workdir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def client(generated: GeneratedClient, target: ContractStack) -> Iterator[Any]:
    # Authorization: Bearer <key>, the generated client's default; an undocumented status raises.
    with generated.package.AuthenticatedClient(base_url=target.api_url, token=target.key,
                                               raise_on_unexpected_status=True,
                                               timeout=httpx.Timeout(60.0)) as authenticated:
        yield authenticated


def call(function: Callable[..., Any], **kwargs: Any) -> Any:
    """`function(**kwargs)` (a generated sync_detailed); a status the document does not have
    for that operation fails with what the API answered."""
    errors = importlib.import_module(f"{PACKAGE}.errors")
    try:
        return function(**kwargs)
    except errors.UnexpectedStatus as exc:
        unexpected = exc
    pytest.fail(f"{function.__module__.rsplit('.', 1)[-1]}: the API answered {unexpected.status_code}, a status the "
                f"document does not have for this operation: {unexpected.content[:1000]!r}")


def value(field: Any) -> Any:
    """A generated enum member's value, or the field as it is."""
    return getattr(field, "value", field)


def test_the_document_generates_a_client_without_warnings(generated: GeneratedClient) -> None:
    assert "Warning(s) encountered" not in generated.output, (
        f"openapi-python-client left parts of the document out of the client:\n{generated.output[:6000]}")


def test_given_a_generated_client_when_a_message_is_sent_then_it_reads_back_sent(
        generated: GeneratedClient, client: Any) -> None:
    send = generated.endpoint("post", "/v1/messages")
    read = generated.endpoint("get", "/v1/messages/{message_id}")
    body = generated.model("SendMessageIn")(to=TO, text="contract test: generated client")

    answer = call(send.sync_detailed, client=client, body=body)

    assert answer.status_code == 202, answer.content
    accepted = answer.parsed
    assert isinstance(accepted, generated.model("MessageAccepted")), f"{type(accepted)}: {answer.content!r}"
    assert accepted.id.startswith("msg_") and accepted.to == TO, answer.content
    assert (accepted.status, accepted.segments, value(accepted.encoding)) == ("queued", 1, "GSM-7"), answer.content

    def taken() -> Any:
        view = call(read.sync_detailed, message_id=accepted.id, client=client)
        assert view.status_code == 200, view.content
        assert isinstance(view.parsed, generated.model("MessageView")), f"{type(view.parsed)}: {view.content!r}"
        assert view.parsed.status in MESSAGE_STATUSES, view.content
        return view.parsed if view.parsed.status in TAKEN else None

    message = wait_for(taken, 30, f"message {accepted.id} sent")
    assert (message.id, message.to, message.provider) == (accepted.id, TO, accepted.provider)
    assert [value(change.status) for change in message.history][0] == "queued"  # noqa: RUF015 - the statuses, in order
    assert message.provider_message_id and message.attempts and message.attempts[-1].outcome == "sent"


def test_given_a_generated_client_when_a_bulk_is_sent_then_its_batch_completes(
        generated: GeneratedClient, client: Any) -> None:
    send = generated.endpoint("post", "/v1/messages/bulk")
    read = generated.endpoint("get", "/v1/batches/{batch_id}")
    body = generated.model("BulkSendIn")(to=BULK_TO, text="contract test: generated client, bulk")

    answer = call(send.sync_detailed, client=client, body=body)

    assert answer.status_code == 202, answer.content
    accepted = answer.parsed
    assert isinstance(accepted, generated.model("BulkAccepted")), f"{type(accepted)}: {answer.content!r}"
    assert accepted.batch_id.startswith("bat_"), answer.content
    assert (accepted.accepted, accepted.duplicates, accepted.rejected_count, accepted.rejected) == (3, 0, 0, [])

    def completed() -> Any:
        view = call(read.sync_detailed, batch_id=accepted.batch_id, client=client)
        assert view.status_code == 200, view.content
        assert isinstance(view.parsed, generated.model("BatchView")), f"{type(view.parsed)}: {view.content!r}"
        batch = view.parsed
        assert batch.id == accepted.batch_id and value(batch.state) in BATCH_STATES, view.content
        assert (batch.total, batch.requested, value(batch.kind)) == (3, 3, "list"), view.content
        assert set(batch.counts.to_dict()) <= MESSAGE_STATUSES, view.content
        return batch if value(batch.state) == "completed" else None

    batch = wait_for(completed, 60, f"batch {accepted.batch_id} completed")
    counts = {status: n for status, n in batch.counts.to_dict().items() if n}
    assert (batch.done, batch.progress, sum(counts.values())) == (3, 1.0, 3), batch.to_dict()
    assert set(counts) <= TAKEN, counts


def test_given_a_generated_client_when_a_send_is_retried_with_its_idempotency_key_then_one_message(
        generated: GeneratedClient, client: Any) -> None:
    send = generated.endpoint("post", "/v1/messages")
    assert "idempotency_key" in inspect.signature(send.sync_detailed).parameters, (
        "the generated send_message takes no idempotency_key: the document does not declare the Idempotency-Key header")
    body = generated.model("SendMessageIn")(to=TO, text="contract test: idempotent send")
    key = f"contract-{uuid.uuid4()}"

    first = call(send.sync_detailed, client=client, body=body, idempotency_key=key)
    again = call(send.sync_detailed, client=client, body=body, idempotency_key=key)

    assert (first.status_code, again.status_code) == (202, 202), (first.content, again.content)
    assert again.parsed.id == first.parsed.id, (first.content, again.content)
    assert again.headers.get("Idempotency-Replayed") == "true"

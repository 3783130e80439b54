"""A batch cancel continued on the fan-out queue (tamtam.bulk.jobs), against moto: it goes on
from the listing's position, a position an earlier version wrote (a status, an index key)
starts again from the first record, and what the deadline leaves is queued as the next job."""

from __future__ import annotations

import json
import time

from tamtam import aws, queues
from tamtam.bulk.jobs import continue_cancel
from tamtam.queue_bodies import CancelBody
from tamtam.store import batches, cursors, messages
from tests.integration import seed
from tests.integration.test_batch_listing import a_batch, records_at


def _job(**position: str) -> CancelBody:
    return CancelBody(kind="cancel", batch_id="bat_listing00000000000000001", tenant_id=seed.EVENTS_TENANT,
                      **position)


def _statuses(ids: list[str]) -> list[str]:
    found = [messages.get(seed.table(), i) for i in ids]
    return [m.status if m else "gone" for m in found]


def _fanout_jobs() -> list[dict[str, str]]:
    sqs = aws.client("sqs")
    answer = sqs.receive_message(QueueUrl=queues.queue_url("fanout"), MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_given_a_position_then_the_cancel_goes_on_from_it(provisioned):
    batch = a_batch(5)
    ids = records_at(batch, list(range(5)))
    _, cursor = batches.list_messages(seed.table(), batch, limit=2)
    assert cursor is not None
    cancelled = continue_cancel(_job(cursor=cursor), table=seed.table(), sqs=aws.client("sqs"),
                                deadline=time.monotonic() + 60)
    assert cancelled == 3
    assert _statuses(ids) == ["queued"] * 2 + ["cancelled"] * 3


def test_given_a_position_an_earlier_version_wrote_then_the_cancel_starts_from_the_first_record(provisioned):
    batch = a_batch(4)
    ids = records_at(batch, list(range(4)))
    index_key = cursors.encode({"pk": f"MSG#{ids[2]}", "sk": "MSG", "gsi2pk": f"BATCH#{batch.id}",
                                "gsi2sk": ids[2]})
    assert index_key is not None
    for position in ({"cursor": index_key}, {"status": "queued", "cursor": index_key}):
        continue_cancel(_job(**position), table=seed.table(), sqs=aws.client("sqs"), deadline=time.monotonic() + 60)
    assert _statuses(ids) == ["cancelled"] * 4


def test_given_a_deadline_passed_then_the_rest_is_queued_as_the_next_job(provisioned):
    batch = a_batch(450)
    ids = records_at(batch, list(range(450)))
    cancelled = continue_cancel(_job(), table=seed.table(), sqs=aws.client("sqs"), deadline=time.monotonic() - 1)
    assert cancelled == 200  # one page, then the deadline
    (job,) = _fanout_jobs()
    assert (job["kind"], job["batch_id"]) == ("cancel", batch.id)
    rest = continue_cancel(CancelBody.model_validate(job), table=seed.table(), sqs=aws.client("sqs"),
                           deadline=time.monotonic() + 60)
    assert rest == 250 and set(_statuses(ids)) == {"cancelled"}

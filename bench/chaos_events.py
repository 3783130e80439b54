"""The status events of the chaos run, as a subscriber of the tamtam bus gets them.

`BusTap` creates, in the emulated account and with the harness's own clients, an SQS queue and a
rule on the bus (source `tamtam`, either status detail type: `Message Status Changes`, a group
of changes, under the default `STATUS_EVENTS=grouped`, `Message Status Changed` under `each`) targeting it: moto routes
PutEvents to SQS targets. `drain()` reads the queue empty (at the end of the run, and now and
then during it so that it never holds too much).

The invariant (bench.chaos_check `missing_events`): every entry of every message's `history`
has its change on the bus, `event_id` = "<message id>:<index of the entry>" (duplicates
allowed: delivery is at least once).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from tamtam.events import STATUS_DETAIL_TYPES, changes_in


class BusTap:
    def __init__(self, *, events: Any, sqs: Any, bus_name: str, name: str = "chaos-status-events"):
        self.events, self.sqs, self.bus, self.name = events, sqs, bus_name, name
        self.event_ids: Counter[str] = Counter()
        self.without_id = 0  # changes without an event_id
        self.received = 0  # events read (a grouped event carries several changes)
        self.by_status: Counter[tuple[str, str]] = Counter()  # (message id, new status) -> changes
        self.lock = threading.Lock()
        self.queue_url = ""

    def create(self) -> BusTap:
        self.queue_url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        pattern = {"source": ["tamtam"], "detail-type": list(STATUS_DETAIL_TYPES)}
        self.events.put_rule(Name=self.name, EventBusName=self.bus, EventPattern=json.dumps(pattern), State="ENABLED")
        self.events.put_targets(Rule=self.name, EventBusName=self.bus, Targets=[{"Id": "chaos", "Arn": arn}])
        return self

    def drain(self, empty_polls: int = 2) -> int:
        """Receive until the queue answered empty `empty_polls` times in a row; returns how many
        events were read."""
        read, empty = 0, 0
        while empty < empty_polls:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                empty += 1
                continue
            empty = 0
            for message in messages:
                self._take(message["Body"])
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            read += len(messages)
        return read

    def _take(self, body: str) -> None:
        try:
            event = json.loads(body)
            detail = event.get("detail") or {}
            if isinstance(detail, str):
                detail = json.loads(detail)
        except (ValueError, AttributeError):
            return
        with self.lock:
            self.received += 1
            for change in changes_in(str(event.get("detail-type")), detail):
                event_id = change.get("event_id")
                if event_id:
                    self.event_ids[str(event_id)] += 1
                else:
                    self.without_id += 1
                self.by_status[(str(change.get("message_id")), str(change.get("new_status")))] += 1

    def delete(self) -> None:
        try:
            self.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=["chaos"])
            self.events.delete_rule(Name=self.name, EventBusName=self.bus)
            self.sqs.delete_queue(QueueUrl=self.queue_url)
        except Exception:  # noqa: BLE001, S110 - the stack is going away anyway
            pass

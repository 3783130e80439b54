"""The table's change stream, pumped by hand into the lifecycle function: what Lambda's stream
event source mapping does in AWS (and local/stack/streams.py in the local stack). The
integration harness pumps after every function it invokes, so a test sees a batch's counters
and its status events as it would a moment later in AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.stack.streams import lambda_record, matches
from local.stack.template import load_template
from tamtam import aws
from tamtam.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
_BATCH = 100
_patterns: list[dict[str, Any]] | None = None
_iterators: list[str] = []
_stream_arn: str | None = None


def _client() -> Any:
    return aws.client("dynamodbstreams")


def _arn() -> str:
    return aws.client("dynamodb").describe_table(TableName=get_settings().table_name)["Table"]["LatestStreamArn"]


def skip_to_latest() -> None:
    """Forget what is already in the stream (the tests before this one)."""
    global _stream_arn
    _stream_arn = _arn()
    shards = _client().describe_stream(StreamArn=_stream_arn)["StreamDescription"]["Shards"]
    _iterators[:] = [
        _client().get_shard_iterator(
            StreamArn=_stream_arn, ShardId=s["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
        for s in shards
    ]


def read() -> list[dict[str, Any]]:
    """Every record since the last read, in order."""
    if not _iterators:
        skip_to_latest()
    out: list[dict[str, Any]] = []
    for i, iterator in enumerate(_iterators):
        while True:
            answer = _client().get_records(ShardIterator=iterator, Limit=1000)
            iterator = answer.get("NextShardIterator") or iterator
            records = answer.get("Records") or []
            out += [lambda_record(r, _stream_arn or "") for r in records]
            if not records:
                break
        _iterators[i] = iterator
    return out


def _filters() -> list[dict[str, Any]]:
    """The lifecycle's stream filter patterns, as template.yaml gives them."""
    global _patterns
    if _patterns is None:
        template = load_template(ROOT / "template.yaml")
        events = template["Resources"]["LifecycleFunction"]["Properties"]["Events"]
        _patterns = [json.loads(f["Pattern"]) for e in events.values() if e["Type"] == "DynamoDB"
                     for f in e["Properties"]["FilterCriteria"]["Filters"]]
    return _patterns


def pump(invoke: Any) -> int:
    """Deliver what the stream holds to the lifecycle function, batches of 100, the records the
    template's filters let through; returns how many records went."""
    records = [r for r in read() if any(matches(p, r) for p in _filters())]
    for start in range(0, len(records), _BATCH):
        invoke("lifecycle", {"Records": records[start : start + _BATCH]})
    return len(records)

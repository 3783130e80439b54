"""bench.dynamo_units: capacity units from item sizes, indexes included."""

from __future__ import annotations

import pytest

from bench.dynamo_units import TableSchema, UnitMeter, item_size, read_units, value_size, write_units

SCHEMA = {"t": TableSchema(key=("pk", "sk"), indexes=(("gsi1pk", "gsi1sk"), ("gsi2pk", "gsi2sk")))}


def _item(**attrs: str) -> dict:
    return {k: {"S": v} for k, v in attrs.items()}


def test_given_values_then_their_sizes_follow_dynamodbs_rules():
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "12345"}) == 4  # (5 digits + 1) // 2 + 1
    assert value_size({"N": "-0.50"}) == 2
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 1 + 2
    assert item_size({"pk": {"S": "MSG#1"}, "n": {"N": "7"}}) == 2 + 5 + 1 + 2


def test_units_round_up_per_kb_written_and_per_4_kb_read():
    assert write_units(0) == write_units(1024) == 1
    assert write_units(1025) == 2
    assert read_units(4096, consistent=True) == 1
    assert read_units(4097, consistent=True) == 2
    assert read_units(100, consistent=False) == 0.5


def test_given_a_put_with_an_index_key_then_the_index_write_is_counted():
    meter = UnitMeter(SCHEMA)
    item = _item(pk="MSG#1", sk="MSG", gsi2pk="BATCH#b", gsi2sk="queued#1")
    meter.observe("PutItem", {"TableName": "t", "Item": item}, {}, None)
    assert meter.write == 2  # the table and gsi2


def test_given_an_update_that_moves_an_index_key_then_it_costs_a_delete_and_a_put_in_the_index():
    meter = UnitMeter(SCHEMA)
    before = _item(pk="MSG#1", sk="MSG", gsi2pk="BATCH#b", gsi2sk="queued#1")
    meter.observe("PutItem", {"TableName": "t", "Item": before}, {}, None)
    after = _item(pk="MSG#1", sk="MSG", gsi2pk="BATCH#b", gsi2sk="sent#1", gsi1pk="STATUS#sent", gsi1sk="t#1")
    request = {"TableName": "t", "Key": _item(pk="MSG#1", sk="MSG"), "ReturnValues": "ALL_NEW"}
    meter.observe("UpdateItem", request, {"Attributes": after}, None)
    # put: 1 + 1 (gsi2); update: 1 (table) + 2 (gsi2 moved) + 1 (gsi1 appears)
    assert meter.write == 2 + 4


def test_given_a_failed_condition_then_the_write_still_costs_the_item_it_checked():
    meter = UnitMeter(SCHEMA)
    big = {**_item(pk="MSG#1", sk="MSG"), "text": {"S": "x" * 1500}}
    meter.observe("PutItem", {"TableName": "t", "Item": big}, {}, None)
    meter.observe(
        "UpdateItem", {"TableName": "t", "Key": _item(pk="MSG#1", sk="MSG")}, {}, "ConditionalCheckFailedException"
    )
    assert meter.write == 2 + 2


def test_given_a_transaction_then_it_costs_twice():
    meter = UnitMeter(SCHEMA)
    request = {"TransactItems": [{"Put": {"TableName": "t", "Item": _item(pk="CHUNK#1", sk="C")}},
                                 {"Update": {"TableName": "t", "Key": _item(pk="BATCH#1", sk="BATCH")}}]}
    meter.observe("TransactWriteItems", request, {}, None)
    assert meter.write == 4


def test_given_reads_then_queries_sum_their_items_and_eventual_reads_cost_half():
    meter = UnitMeter(SCHEMA)
    item = {**_item(pk="MSG#1", sk="MSG"), "text": {"S": "x" * 5000}}
    meter.observe(
        "GetItem", {"TableName": "t", "Key": _item(pk="MSG#1", sk="MSG"), "ConsistentRead": True}, {"Item": item}, None
    )
    assert meter.read == 2
    items = [{**_item(pk=f"MSG#{i}", sk="MSG"), "text": {"S": "y" * 1000}} for i in range(3)]
    meter.observe("Query", {"TableName": "t", "IndexName": "gsi2"}, {"Items": items}, None)
    assert meter.read == pytest.approx(2 + 0.5)
    meter.observe("GetItem", {"TableName": "t", "Key": _item(pk="MSG#9", sk="MSG")}, {}, None)
    assert meter.read == pytest.approx(3.0)


def test_given_a_batch_write_with_unprocessed_items_then_only_the_written_ones_count():
    meter = UnitMeter(SCHEMA)
    puts = [{"PutRequest": {"Item": _item(pk=f"MSG#{i}", sk="MSG")}} for i in range(4)]
    answer = {"UnprocessedItems": {"t": puts[3:]}}
    meter.observe("BatchWriteItem", {"RequestItems": {"t": puts}}, answer, None)
    assert meter.write == 3


def test_given_an_include_index_then_only_a_change_of_its_projected_attributes_writes_it():
    schema = {"t": TableSchema(key=("pk", "sk"), indexes=(("gsi2pk", "gsi2sk"), ("gsi3pk", "gsi3sk")),
                               projections=(None, ("to",)))}
    meter = UnitMeter(schema)
    item = _item(pk="MSG#1", sk="MSG", gsi3pk="TENANT#a", gsi3sk="t#1", to="+1", status="queued")
    meter.observe("PutItem", {"TableName": "t", "Item": item}, {}, None)
    assert meter.write == 2  # the table and gsi3
    sent = _item(pk="MSG#1", sk="MSG", gsi3pk="TENANT#a", gsi3sk="t#1", to="+1", status="sent")
    request = {"TableName": "t", "Key": _item(pk="MSG#1", sk="MSG"), "ReturnValues": "ALL_NEW"}
    meter.observe("UpdateItem", request, {"Attributes": sent}, None)
    assert meter.write == 2 + 1  # the status is not projected: the table only
    unknown = {"TableName": "t", "Key": _item(pk="MSG#1", sk="MSG"), "UpdateExpression": "SET #s = :s",
               "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": _item(**{":s": "delivered"})}
    meter.observe("UpdateItem", unknown, {}, None)
    assert meter.write == 3 + 1
    moved = {**unknown, "ExpressionAttributeNames": {"#s": "to"}}
    meter.observe("UpdateItem", moved, {}, None)
    assert meter.write == 4 + 2  # `to` is projected: the table and gsi3


def test_given_a_large_item_then_a_keys_only_index_entry_costs_one_unit_and_an_all_index_the_whole_item():
    schema = {"t": TableSchema(key=("pk", "sk"), indexes=(("gsi1pk", "gsi1sk"), ("gsi2pk", "gsi2sk")),
                               projections=(None, ()))}
    meter = UnitMeter(schema)
    item = _item(pk="MSG#1", sk="MSG", gsi1pk="STATUS#sent", gsi1sk="t#1", gsi2pk="BATCH#b", gsi2sk="1",
                 text="x" * 1500)
    meter.observe("PutItem", {"TableName": "t", "Item": item}, {}, None)
    assert meter.write_by == {"MSG table": 2, "MSG gsi1": 2, "MSG gsi2": 1}
    assert meter.write == 5

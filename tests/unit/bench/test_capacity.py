"""bench.capacity: the arithmetic on a hand-computed case, the bench's own totals, and the doc's
tables equal to what the script prints (so docs/capacity.md cannot drift)."""

from __future__ import annotations

import pytest

from bench import capacity
from bench.capacity import Fig, Invocations, PerMessage


def _use(**overrides) -> PerMessage:
    one = Fig(1.0, "design", "test")
    zero = Fig(0.0, "design", "test")
    fields = {
        "messages": 10,
        "invocations": [Invocations("A", 10, 100, 256), Invocations("B", 5, 400, 512)],
        "apigw_requests": one,
        "ddb_write_units": Fig(4.0, "design", "t"),
        "ddb_read_units": Fig(2.0, "design", "t"),
        "sqs_requests": Fig(3.0, "design", "t"),
        "putevents_calls": Fig(0.5, "design", "t"),
        "events_entries": Fig(3.0, "design", "t"),
        "secrets_calls": zero,
        "kms_requests": zero,
        "log_kib": one,
        "msg_writes": Fig(3.0, "design", "t"),
        "rate_item_writes": Fig(0.5, "design", "t"),
        "batch_item_writes": zero,
    }
    fields.update(overrides)
    return PerMessage(**fields)


def test_given_invocations_then_seconds_gb_seconds_and_invocations_per_message():
    use = _use()
    # (10 x 0.1 s + 5 x 0.4 s) / 10 messages = 0.3 s; GB-s: (10 x 0.1 x 0.25 + 5 x 0.4 x 0.5) / 10 = 0.125
    assert use.lambda_seconds == pytest.approx(0.3)
    assert use.lambda_gb_seconds == pytest.approx(0.125)
    assert use.lambda_invocations == pytest.approx(1.5)


def test_given_a_usage_then_the_cost_per_service_is_units_times_list_price():
    cost = capacity.per_message_cost(_use())
    assert cost["DynamoDB"] == pytest.approx(4 * 1.25e-6 + 2 * 0.25e-6)
    assert cost["API Gateway"] == pytest.approx(3.5e-6)
    assert cost["EventBridge"] == pytest.approx(3e-6)
    assert cost["SQS"] == pytest.approx(1.2e-6)
    assert cost["Lambda"] == pytest.approx(1.5 * 0.2e-6 + 0.125 * 0.0000133334)


def test_given_the_pacing_grid_then_the_rates_are_slots_over_period():
    assert capacity.pacing_rate(20) == pytest.approx(19.0)  # 19 slots a second
    assert capacity.pacing_rate(10) == pytest.approx(9.5)  # 19 slots per 2 s
    assert capacity.pacing_rate(2) == pytest.approx(1.9)  # 19 slots per 10 s
    assert capacity.pacing_rate(1) == pytest.approx(0.95)  # 19 per 20 s


def test_given_a_hand_computed_case_then_saturation_is_limit_over_use(monkeypatch):
    use = _use()
    monkeypatch.setattr(capacity, "USE", {"singles": use, "bulk": use, "otp": use})
    table = {row.component: row for row in capacity.rows("us-east-1")}
    assert table["Lambda concurrent executions"].rates["singles"] == pytest.approx(1000 / 0.3)
    assert table["DynamoDB table writes"].rates["singles"] == pytest.approx(40000 / 4)
    assert table["EventBridge PutEvents (us-east-1)"].rates["singles"] == pytest.approx(10000 / 0.5)
    assert table["pacing bucket `RATE#<provider>#<period>`"].rates["singles"] == pytest.approx(2000)
    assert table["batch item `BATCH#<id>` (counters)"].rates["singles"] is None  # no batch: not used
    # 4 shards x 200 records/s (5 ms each) / 3 record writes a message
    assert table["lifecycle on the stream (100 records / invocation)"].rates["singles"] == pytest.approx(800 / 3)
    assert table["providers, paced (all five together)"].rates["singles"] == pytest.approx(19 + 9.5 + 19 + 9.5 + 1.9)
    first = capacity.bottlenecks(list(table.values()), "singles", n=1)
    assert first == [("providers, paced (all five together)", pytest.approx(58.9))]


def test_given_the_bench_figures_then_the_recomputed_cost_is_the_bench_line_within_rounding():
    # docs/performance.md (8a1e67a): singles $14.49, bulk $8.46 per 1M (from rounded per-message figures here).
    assert sum(capacity.per_message_cost(capacity.SINGLES).values()) * 1e6 == pytest.approx(14.49, abs=0.02)
    assert sum(capacity.per_message_cost(capacity.BULK).values()) * 1e6 == pytest.approx(8.46, abs=0.02)
    assert capacity.per_message_cost(capacity.BULK)["Lambda"] * 1e6 == pytest.approx(0.744, abs=0.01)
    assert capacity.per_message_cost(capacity.SINGLES)["Lambda"] * 1e6 == pytest.approx(1.17, abs=0.01)


def test_given_a_profile_then_the_month_adds_messages_fixed_costs_and_storage():
    bill = capacity.monthly_bill({"singles": 1_000_000})
    per = capacity.per_message_cost(capacity.SINGLES)
    assert bill["API Gateway"] == pytest.approx(3.50)
    assert bill["Secrets Manager"] == pytest.approx(per["Secrets Manager"] * 1e6 + 2.40)
    # 1M records x 3 months x 1.3 KB at $0.25 per GB-month
    assert bill["DynamoDB storage"] == pytest.approx(1e6 * 3 * 1.3 / 1024 / 1024 * 0.25)


def test_given_every_input_then_it_names_its_kind_and_source():
    figs = [*capacity.QUOTAS.values(), *capacity.SETTINGS.values(), *capacity.DESIGN.values()]
    for use in capacity.USE.values():
        figs += [v for v in vars(use).values() if isinstance(v, Fig)]
    for fig in figs:
        assert fig.kind in {"measured", "quota", "setting", "design"}
        assert fig.source


def test_the_doc_holds_the_scripts_current_tables():
    text = capacity.DOC.read_text(encoding="utf-8")
    assert capacity.doc_block(text) == capacity.render(), "run: python -m bench.capacity --write"
    assert capacity.main(["--check"]) == 0

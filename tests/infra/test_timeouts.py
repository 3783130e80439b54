"""Every SQS event source of template.yaml: its function's timeout within the visibility timeout
infra/ gives the queue, with the 6x AWS recommends. Static (local.rehearsal.timeouts): no
terraform needed, infra/ evaluated with its defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.rehearsal.timeouts import VISIBILITY_RATIO, EventSource, check
from local.stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
SOURCES, PROBLEMS = check(ROOT / "template.yaml", ROOT / "infra")
SQS_EVENTS = [(lid, name) for lid, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
              for name, e in ((r.get("Properties") or {}).get("Events") or {}).items() if e["Type"] == "SQS"]


def test_every_sqs_event_source_is_traced_to_a_queue_of_infra() -> None:
    assert SQS_EVENTS, "template.yaml has no SQS event source"
    assert sorted((s.function, s.event) for s in SOURCES) == sorted(SQS_EVENTS)
    assert all(s.queue.startswith("aws_sqs_queue.") for s in SOURCES)


@pytest.mark.parametrize("function", sorted({s.function for s in SOURCES}))
def test_function_timeout_is_within_each_of_its_queues_visibility_timeout_6x(function: str) -> None:
    assert [p for p in PROBLEMS if p.startswith(f"{function}.")] == []


def _copy_with_timeout(tmp_path: Path, function: str, seconds: int) -> Path:
    template = json.loads(json.dumps(TEMPLATE))
    template["Resources"][function]["Properties"]["Timeout"] = seconds
    copy = tmp_path / "template.yaml"
    copy.write_text(json.dumps(template), encoding="utf-8")  # JSON is YAML
    return copy


def test_given_a_function_timeout_of_300_s_then_each_of_its_queues_is_named_as_refused(tmp_path: Path) -> None:
    function = min(s.function for s in SOURCES)
    own = [s for s in SOURCES if s.function == function]
    _, problems = check(_copy_with_timeout(tmp_path, function, 300), ROOT / "infra")
    assert len(problems) == len(own), problems
    for source, problem in zip(own, problems, strict=True):
        assert problem.startswith(f"{function}.{source.event} (timeout 300 s) reads {source.queue}"), problem
        assert "AWS refuses the event source mapping" in problem


def test_given_a_timeout_within_the_visibility_but_under_6x_then_it_is_named() -> None:
    at_the_limit = EventSource("FinalizerFunction", "PasseinfoTxDlq", 30, 'aws_sqs_queue.dlq["passeinfo-tx"]', 30)
    assert "under the 6 x AWS recommends (1.0 x)" in str(at_the_limit.problem())
    recommended = EventSource(
        "FinalizerFunction", "PasseinfoTxDlq", 30, 'aws_sqs_queue.dlq["passeinfo-tx"]', 30 * VISIBILITY_RATIO
    )
    assert recommended.problem() is None


def test_given_infra_without_a_visibility_timeout_then_the_sqs_default_of_30_s_is_used(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    for source in (ROOT / "infra").glob("*.tf"):
        text = source.read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if not line.strip().startswith("visibility_timeout_seconds")]
        (infra / source.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    sources, problems = check(ROOT / "template.yaml", infra)
    assert {s.visibility for s in sources} == {30}
    assert len(problems) == len(sources)

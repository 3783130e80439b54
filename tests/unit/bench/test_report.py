"""bench.report: the table's lines and layout."""

from __future__ import annotations

from bench.report import MISS, NOT_MEASURED, PASS, Line, money, render, verdicts


def test_given_checks_then_the_verdicts_are_pass_miss_and_not_measured():
    lines = [
        Line.check("1 cost", "a", "1", "<= 2", True),
        Line.check("1 cost", "b", "3", "<= 2", False),
        Line.missing("3 accept", "c", "bulk endpoint absent", "< 3 s"),
        Line("1 cost", "d", "info"),
    ]
    assert [ln.verdict for ln in lines] == [PASS, MISS, NOT_MEASURED, ""]
    assert lines[2].value == "not measured: bulk endpoint absent"
    assert verdicts(lines) == (1, 1, 1)


def test_given_lines_then_the_table_has_a_row_each_under_its_header():
    table = render([Line.check("2 sender", "speedup", "9.1x", ">= 8x", True)], "title")
    rows = table.splitlines()
    assert rows[0] == "title"
    assert rows[2].split() == ["#", "measure", "value", "target", "result"]
    assert rows[4].split() == ["2", "sender", "speedup", "9.1x", ">=", "8x", "PASS"]


def test_money():
    assert money(6.5) == "$6.50"
    assert money(0.123) == "$0.123"
    assert money(0) == "$0.00"

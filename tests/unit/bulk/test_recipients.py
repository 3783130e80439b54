"""The API's cheap number check agrees with libphonenumber on the forms callers send, finds
duplicates across spellings, and refuses what is not a number or misses a variable."""

from __future__ import annotations

import pytest

from tamtam.bulk.recipients import placeholders, prepare, quick_e164, render
from tamtam.phone import to_e164


@pytest.mark.parametrize(
    "raw",
    [
        "+224622000001", "622000001", "622 00 00 01", "622-00-00-01", "00224622000001", "+224 (622) 000 001",
        "+24106123456", "+241 06 12 34 56", "+33612345678", "+33 (0)6 12 34 56 78", "+44 07911 123456",
        "+14155550100", "+78001234567", "+221 77 123 45 67",
    ],
)
def test_given_a_valid_number_in_any_usual_form_then_the_quick_form_is_libphonenumbers_e164(raw):
    assert quick_e164(raw, "GN") == to_e164(raw, "GN")


@pytest.mark.parametrize(
    "raw",
    [
        "hello",
        "+2246",
        "",
        "+",
        "00",
        "+0224622000001",
        "+999123456789",
        "٦٢٢٠٠٠٠٠١",
        622000001,
        None,
        "+224" + "1" * 30,
        "+1234567890123456",
    ],
)
def test_given_something_that_is_not_shaped_like_a_number_then_none(raw):
    assert quick_e164(raw, "GN") is None


def test_given_a_national_number_then_the_default_region_and_its_trunk_prefix_apply():
    assert quick_e164("06 12 34 56 78", "FR") == "+33612345678"
    assert quick_e164("06123456", "GA") == "+24106123456"


def test_given_duplicates_across_spellings_then_the_first_wins_and_the_others_are_counted():
    entries = [
        ("+224622000001", None),
        ("622 000 001", None),
        ("nope", None),
        ("00224622000001", None),
        ("+224622000002", None),
    ]
    prepared = prepare(entries, "GN")
    assert prepared.accepted == [(0, "+224622000001", None), (4, "+224622000002", None)]
    assert prepared.duplicates == 2
    assert [(r.index, r.to, r.code) for r in prepared.rejected] == [(2, "nope", "invalid_phone")]


def test_given_a_template_then_a_recipient_missing_a_variable_is_rejected():
    needed = placeholders("Bonjour {{ name }}, code {{code}}")
    assert needed == {"name", "code"}
    prepared = prepare(
        [("+224622000001", {"name": "Awa", "code": "1"}), ("+224622000002", {"name": "Ali"})], "GN", needed
    )
    assert [a[0] for a in prepared.accepted] == [0]
    assert [(r.index, r.code) for r in prepared.rejected] == [(1, "missing_variable")]


def test_given_variables_then_they_are_rendered_and_unknown_ones_left_empty():
    assert render("Bonjour {{ name }}{{x}} !", {"name": "Sékou"}) == "Bonjour Sékou !"
    assert render("pas de variable", None) == "pas de variable"

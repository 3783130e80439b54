"""OTP templates: the defaults, the {{code}} rule, what is stored and what is sent."""

from __future__ import annotations

import pytest

from tamtam.errors import InvalidRequest
from tamtam.otp import templates
from tamtam.segments import analyse


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_given_no_template_then_the_locale_default_keeps_the_placeholder_and_fills_the_minutes(locale):
    text = templates.prepare(None, locale=locale, ttl_seconds=300)
    assert text.count("{{code}}") == 1 and "{{minutes}}" not in text and " 5 min" in text


def test_given_the_french_default_then_it_stays_one_gsm7_segment_with_the_longest_code():
    text = templates.sized_like(templates.prepare(None, locale="fr", ttl_seconds=1800), 10)
    assert text.startswith("Votre code de vérification est 0000000000.")
    assert (analyse(text).encoding, analyse(text).segments) == ("GSM-7", 1)


@pytest.mark.parametrize(("ttl", "minutes"), [(60, "1"), (61, "2"), (90, "2"), (1800, "30")])
def test_given_a_ttl_then_the_minutes_are_rounded_up(ttl, minutes):
    assert templates.prepare("{{code}} ({{minutes}})", locale="fr", ttl_seconds=ttl) == f"{{{{code}}}} ({minutes})"


@pytest.mark.parametrize("template", ["Votre code", "{{ code }}", "{code}", "{{CODE}}"])
def test_given_a_template_without_the_placeholder_then_422_invalid_template(template):
    with pytest.raises(InvalidRequest) as caught:
        templates.prepare(template, locale="fr", ttl_seconds=300)
    assert (caught.value.status, caught.value.code, caught.value.field) == (422, "invalid_template", "template")


def test_given_an_unknown_locale_without_template_then_refused():
    with pytest.raises(InvalidRequest) as caught:
        templates.prepare(None, locale="de", ttl_seconds=300)
    assert caught.value.field == "locale"


def test_given_a_stored_text_then_render_puts_the_code_in_every_placeholder():
    assert templates.render("{{code}} / {{code}}", "0042") == "0042 / 0042"
    assert templates.sized_like("Code {{code}}", 8) == "Code 00000000"

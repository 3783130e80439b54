"""Opt-out keywords (tamtam.opt_outs): a text that is nothing but a keyword, case, accents,
surrounding spaces and trailing punctuation ignored; the list is a setting."""

from __future__ import annotations

import pytest

from tamtam.opt_outs import keyword_action, normalise
from tamtam.settings import reset_settings


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.delenv("OPT_OUT_KEYWORDS", raising=False)
    monkeypatch.delenv("OPT_IN_KEYWORDS", raising=False)
    reset_settings()
    yield
    reset_settings()


@pytest.mark.parametrize("text", ["STOP", "stop", "stop ", " Stop\n", "Stop!", "stop.", "Arrêt", "ARRÊT", "arret",
                                  "STOPALL", "stopall", "Unsubscribe", "désabonner", "DESABONNER", "Désabonner !"])
def test_given_an_opt_out_keyword_in_any_case_or_accent_then_it_opts_out(text: str) -> None:
    assert keyword_action(text) is not None
    assert keyword_action(text)[0] == "opt_out"


@pytest.mark.parametrize("text", ["START", "start", " Start. "])
def test_given_start_then_it_opts_back_in(text: str) -> None:
    assert keyword_action(text) == ("opt_in", "START")


@pytest.mark.parametrize("text", ["stop sending me this", "STOPP", "please stop", "", "   ", "S T O P", "stop stop",
                                  "restart", "Merci"])
def test_given_a_text_that_is_more_or_other_than_a_keyword_then_nothing(text: str) -> None:
    assert keyword_action(text) is None


def test_given_the_default_list_then_it_names_the_keywords_of_the_issue() -> None:
    assert keyword_action("ARRÊT") == ("opt_out", "ARRET")  # the first matching entry, as configured
    assert keyword_action("stopall") == ("opt_out", "STOPALL")


def test_given_a_configured_list_then_only_its_words_match(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPT_OUT_KEYWORDS", '["FIN", "Halte"]')
    monkeypatch.setenv("OPT_IN_KEYWORDS", '["REPRENDRE"]')
    reset_settings()
    assert keyword_action("fin") == ("opt_out", "FIN")
    assert keyword_action("HALTE!") == ("opt_out", "Halte")
    assert keyword_action("stop") is None
    assert keyword_action("Reprendre") == ("opt_in", "REPRENDRE")
    assert keyword_action("start") is None


def test_normalise_strips_accents_case_and_trailing_punctuation() -> None:
    assert normalise(" Arrêt! ") == "ARRET"
    assert normalise("Désabonner.") == "DESABONNER"

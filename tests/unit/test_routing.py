import pytest

from tamtam import routing
from tamtam.errors import InvalidRequest


@pytest.fixture(autouse=True)
def _fresh_routes(monkeypatch):
    monkeypatch.delenv("ROUTES", raising=False)
    routing.configured_routes.cache_clear()
    yield
    routing.configured_routes.cache_clear()


def test_given_a_guinean_number_then_passeinfo_then_message_pro_then_the_device():
    assert routing.route_for("+224622000001") == ["passeinfo", "messagepro", "smsgate"]


def test_given_a_gabonese_number_then_ventis_first():
    assert routing.route_for("+24106123456") == ["ventis", "smsgate"]


def test_given_any_other_number_then_flow_sms():
    assert routing.route_for("+33612345678") == ["flowsms", "smsgate"]


def test_given_a_pinned_provider_then_it_is_the_whole_route():
    assert routing.route_for("+224622000001", pinned="smsgate") == ["smsgate"]


def test_given_an_unknown_pinned_provider_then_a_clear_error():
    with pytest.raises(InvalidRequest) as err:
        routing.route_for("+224622000001", pinned="nope")
    assert (err.value.code, err.value.field) == ("unknown_provider", "provider")


def test_given_routes_in_the_environment_then_they_replace_the_defaults(monkeypatch):
    monkeypatch.setenv("ROUTES", '{"+224": ["messagepro"], "*": ["smsgate"]}')
    routing.configured_routes.cache_clear()
    assert routing.route_for("+224622000001") == ["messagepro", "smsgate"]
    assert routing.route_for("+33612345678") == ["smsgate"]


def test_given_a_tenant_override_then_it_wins_for_its_prefix():
    assert routing.route_for("+224622000001", overrides={"+224": ["smsgate"]}) == ["smsgate"]


def test_given_routes_naming_an_unknown_provider_then_configuration_fails(monkeypatch):
    monkeypatch.setenv("ROUTES", '{"*": ["twilio"]}')
    routing.configured_routes.cache_clear()
    with pytest.raises(ValueError):
        routing.route_for("+33612345678")

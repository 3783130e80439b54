import pytest

from tamtam.phone import InvalidPhoneNumber, country_code, national_digits, to_e164


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+224622000001", "GN", "+224622000001"),
        ("622 00 00 01", "GN", "+224622000001"),
        ("+241 06 12 34 56", "GN", "+24106123456"),
        ("+33612345678", "GN", "+33612345678"),
        ("0612345678", "FR", "+33612345678"),
    ],
)
def test_given_a_valid_number_when_normalised_then_it_is_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "12", "not a number", "+2246", "+999123456789", "1" * 40])
def test_given_an_invalid_number_when_normalised_then_it_is_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        to_e164(raw, "GN")


def test_given_e164_then_national_digits_and_country_code():
    assert national_digits("+224622000001") == "622000001"
    assert country_code("+224622000001") == 224

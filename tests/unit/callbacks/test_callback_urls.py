"""Which URLs a callback may go to: decided on the addresses the host resolves to (a stub
resolver stands in for DNS), so a public-looking name that points inside the network is refused."""

from __future__ import annotations

import pytest

from tamtam.callbacks.urls import InvalidCallbackUrl, check_url


def resolving_to(*addresses: str):
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(("address", "why"), [
    ("10.1.2.3", "private"), ("10.255.255.255", "private"),
    ("172.16.0.1", "private"), ("172.31.255.254", "private"),
    ("192.168.1.10", "private"),
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"),
    ("169.254.169.254", "link-local"), ("169.254.0.1", "link-local"),
    ("::1", "loopback"),
    ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("fe80::1", "link-local"), ("febf::1", "link-local"),
    ("::ffff:10.0.0.1", "private"), ("::ffff:169.254.169.254", "link-local"), ("::ffff:127.0.0.1", "loopback"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),  # noqa: S104 - an address the check must refuse
    ("100.64.0.1", "not public"),  # carrier-grade NAT
])
def test_given_a_name_resolving_to_a_non_public_address_then_422_invalid_callback_url(address, why):
    resolve = resolving_to(address)
    with pytest.raises(InvalidCallbackUrl) as refused:
        check_url("https://hooks.example.com/tamtam", allow_loopback=False, resolve=resolve)
    assert refused.value.status == 422 and refused.value.code == "invalid_callback_url"
    assert why in refused.value.message and address not in refused.value.message  # never maps the network
    assert resolve.calls == [("hooks.example.com", 443)]


def test_given_a_name_resolving_to_public_addresses_then_accepted_with_every_address():
    target = check_url("https://Hooks.Example.com:8443/a/b?x=1#frag", allow_loopback=False,
                       resolve=resolving_to("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"))
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example.com", 8443, "/a/b?x=1")
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert target.host_header == "hooks.example.com:8443"


def test_given_one_private_address_among_public_ones_then_refused():
    with pytest.raises(InvalidCallbackUrl):
        check_url("https://hooks.example.com/", allow_loopback=False, resolve=resolving_to("93.184.216.34", "10.0.0.7"))


@pytest.mark.parametrize("url", ["https://10.0.0.1/", "https://172.20.1.1/", "https://192.168.0.1/",
                                 "https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/", "https://[fd00::1]/",
                                 "https://[::1]/", "https://127.0.0.1/"])
def test_given_an_address_literal_then_it_is_checked_without_dns(url):
    resolve = resolving_to("93.184.216.34")
    with pytest.raises(InvalidCallbackUrl):
        check_url(url, allow_loopback=False, resolve=resolve)
    assert resolve.calls == []


@pytest.mark.parametrize(("url", "fragment"), [
    ("http://hooks.example.com/", "https"), ("ftp://hooks.example.com/", "https"), ("hooks.example.com/x", "https"),
    ("https://user:pw@hooks.example.com/", "credentials"), ("https:///path", "no host"),
    ("https://hooks.example.com:99999/", "not a URL"), ("https://hooks .example.com/", "spaces"),
    ("https://hooks.example.com/" + "a" * 2048, "longer"),
])
def test_given_a_url_that_is_not_https_to_a_host_then_refused_with_why(url, fragment):
    with pytest.raises(InvalidCallbackUrl) as refused:
        check_url(url, allow_loopback=False, resolve=resolving_to("93.184.216.34"))
    assert fragment in refused.value.message


def test_given_a_name_that_does_not_resolve_then_refused():
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(InvalidCallbackUrl, match="does not resolve"):
        check_url("https://nowhere.invalid/", allow_loopback=False, resolve=nowhere)


def test_given_the_local_setting_then_loopback_is_allowed_over_http_but_private_ranges_never():
    assert check_url("http://127.0.0.1:8080/hook", allow_loopback=True).addresses == ("127.0.0.1",)
    assert check_url("http://[::1]:8080/hook", allow_loopback=True).host_header == "[::1]:8080"
    assert check_url("https://localhost/x", allow_loopback=True, resolve=resolving_to("127.0.0.1")).host == "localhost"
    for url in ("http://10.0.0.1/", "https://169.254.169.254/", "http://[fe80::1]/"):
        with pytest.raises(InvalidCallbackUrl):
            check_url(url, allow_loopback=True)
    with pytest.raises(InvalidCallbackUrl, match="https"):  # http stays loopback-only
        check_url("http://hooks.example.com/", allow_loopback=True, resolve=resolving_to("93.184.216.34"))


def test_given_the_aws_setting_then_http_to_loopback_is_refused():
    with pytest.raises(InvalidCallbackUrl, match="loopback"):
        check_url("http://127.0.0.1:8080/hook", allow_loopback=False)

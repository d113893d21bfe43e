"""The address every limit counts by cannot be chosen by the client."""

from typing import Any

import pytest
from django.test import RequestFactory

from verification.clients import client_address

factory = RequestFactory()


def request(remote: str, forwarded: str | None = None):
    headers: dict[str, Any] = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return factory.get("/", **headers)


def test_the_peer_counts_and_a_forwarded_header_is_ignored_by_default(settings):
    settings.TRUST_X_FORWARDED_FOR = False
    assert client_address(request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_address_it_appended_counts(settings):
    settings.TRUST_X_FORWARDED_FOR = True
    # The client forged the first entry; the proxy appended the real one.
    forged = request("10.0.0.2", "198.51.100.1, 203.0.113.7")
    assert client_address(forged) == "203.0.113.7"
    assert client_address(request("10.0.0.2")) == "10.0.0.2"


@pytest.mark.parametrize(
    ("remote", "counted"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "unknown"),
    ],
)
def test_addresses_are_normalised(settings, remote, counted):
    settings.TRUST_X_FORWARDED_FOR = False
    assert client_address(request(remote)) == counted

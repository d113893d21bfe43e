"""Which URLs an integrator's webhook and return address may be, and which network
addresses a webhook may reach.

- A URL is absolute, `https`, without credentials, at most 2000 characters. Plain
  `http` only for localhost (`localhost`, `127.0.0.1`, `[::1]`) on the embedded
  defaults, where an integrator tries the API on one machine; never in production.
- In production mode a webhook is never sent to an address that is not on the
  public internet (private, loopback, link-local, shared, reserved, multicast), so
  that a webhook URL cannot be used to reach into the operator's own network,
  unless the operator listed that network in WEBHOOK_ALLOWED_NETWORKS. The address
  is checked after the connection is made, on the address actually connected to,
  so a name that resolves differently the second time gains nothing.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be used as a webhook or return URL, or None when it can.
    The reason is in English, for the integrator's developers."""
    if not isinstance(url, str) or not url:
        return "Must be an absolute https URL."
    if len(url) > MAX_URL_LENGTH:
        return f"Must be at most {MAX_URL_LENGTH} characters."
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return "Must not contain spaces or control characters."
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "Must be an absolute https URL."
    if parts.scheme not in ("https", "http") or not host:
        return "Must be an absolute https URL."
    if parts.username is not None or parts.password is not None:
        return "Must not contain a user name or password."
    if parts.scheme == "http" and not (host in LOCAL_HOSTS and not settings.PRODUCTION):
        if settings.PRODUCTION:
            return "Must use https."
        return "Must use https (http only for localhost on the embedded defaults)."
    return None


def address_allowed(address: str) -> bool:
    """Whether a webhook may be sent to the IP `address` it connected to."""
    if not settings.PRODUCTION:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for network in settings.WEBHOOK_ALLOWED_NETWORKS:
        if ip in ipaddress.ip_network(network, strict=False):
            return True
    return ip.is_global and not ip.is_multicast

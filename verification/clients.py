"""Who is asking: the client address every limit counts by.

With `TRUST_X_FORWARDED_FOR` off (the default) it is the address of the TCP peer
(REMOTE_ADDR): nothing the client sends can change it. Behind a reverse proxy the
peer is the proxy, so the operator turns the setting on and the address is the
right-most entry of X-Forwarded-For, the one the trusted proxy itself appended (any
entries to its left were sent by the client and may be forged). IPv6 clients are
counted per /64, the block one subscriber is given, so that walking through the
addresses of one's own prefix does not buy more.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "unknown"


def client_address(request: HttpRequest) -> str:
    """The address to count this request by, normalised ("unknown" when there
    is none that parses)."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if entries:
            address = entries[-1]
    return normalise(address)


def normalise(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return UNKNOWN
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def axes_client_address(request: HttpRequest) -> str | None:
    """The same address, for django-axes' AXES_CLIENT_IP_CALLABLE, in the form its
    IP address column takes: an IPv6 client's /64 as the block's first address,
    and None (counted together) when there is none."""
    address = client_address(request)
    if address == UNKNOWN:
        return None
    return address.removesuffix("/64")

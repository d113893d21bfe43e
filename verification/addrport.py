"""Listening addresses as commands take them ("host:port", "[v6]:port" or a bare
port), and the URL a client on this machine uses to reach a server bound to one."""

from __future__ import annotations


def split_addrport(
    addrport: str, *, default_host: str = "127.0.0.1"
) -> tuple[str, int]:
    """("host", port) from "host:port", "[v6]:port" or "port".

    Raises ValueError, with a message for the command line, for anything else.
    """
    host, _, port = addrport.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{addrport!r} is not an address:port or a port number.")
    host = host.removeprefix("[").removesuffix("]")
    return host or default_host, int(port)


def base_url(host: str, port: int) -> str:
    """The URL a client on this machine uses to reach a server bound to host."""
    if host == "0.0.0.0":  # noqa: S104 - naming the wildcard, not binding to it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"

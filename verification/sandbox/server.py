"""The stand-alone sandbox (`manage.py runsandbox`): a threaded HTTP server that
serves only the sandbox, at the provider's own paths."""

from __future__ import annotations

import socketserver
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

from verification.sandbox.answers import Sandbox, declared_length, read_body

WSGIEnviron = dict[str, Any]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def wsgi_app(sandbox: Sandbox) -> Callable[[WSGIEnviron, StartResponse], list[bytes]]:
    """A WSGI application that serves only `sandbox`, at the provider's paths."""

    def application(environ: WSGIEnviron, start_response: StartResponse) -> list[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        body = read_body(environ["wsgi.input"], declared_length(headers))
        status, answer_headers, content = sandbox.handle(
            environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/", headers, body
        )
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [*answer_headers, ("Content-Length", str(len(content)))],
        )
        return [content]

    return application


class SandboxServer(socketserver.ThreadingMixIn, WSGIServer):
    """Django's development WSGI server, one thread per connection; the threads
    do not hold up a stop (a stalled answer is abandoned)."""

    daemon_threads = True


def make_server(host: str, port: int, sandbox: Sandbox) -> SandboxServer:
    """A bound, threaded HTTP server for `sandbox`; port 0 picks a free port
    (read it from `server.server_address`). Raises OSError when it cannot bind."""
    server = SandboxServer((host, port), WSGIRequestHandler, ipv6=":" in host)
    server.set_app(wsgi_app(sandbox))
    return server

"""An ASGI middleware that answers 401 to a request without one of the API keys, before any route sees it.

It wraps the whole app, so the mounted `/v1` app and BentoML's docs (`/`, `/docs.json`, `/schema.json`) are
closed too; only the probes and Prometheus stay open, because orchestrators and scrapers call them without
credentials and they tell nothing about the model or its answers. Keys are compared as SHA-256 digests with
`hmac.compare_digest`, against every key without stopping at a match, so the time taken says neither how
much of a key was right, nor how long a key is, nor which key matched. A key authenticates the client; it does
not encrypt anything: across an untrusted network, TLS in front (a proxy) keeps it from being read on the way.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from serving.compat import serve_bind_host
from serving.request_log import log_client_error

# BentoML's liveness (and its /healthz alias), readiness and Prometheus routes.
OPEN_PATHS = frozenset({"/livez", "/healthz", "/readyz", "/metrics"})
LOOPBACK_NAMES = frozenset({"localhost"})
MISSING = "no Authorization header: send 'Authorization: Bearer <key>'"
SEVERAL = "more than one Authorization header"
NOT_BEARER = "the Authorization header is not 'Bearer <key>'"
WRONG = "the API key is not valid"
log = logging.getLogger("bentoml.textclf.auth")


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


class ApiKey:
    def __init__(self, app: ASGIApp, keys: Collection[str]) -> None:
        if not keys:
            raise ValueError("ApiKey needs at least one key; without keys, do not add the middleware")
        self.app = app
        self.digests = tuple(_digest(key.encode("ascii")) for key in keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        reason = self.refusal([value for name, value in scope["headers"] if name == b"authorization"])
        if reason is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        log_client_error(401, scope.get("method", "WEBSOCKET"), _logged_path(scope),
                         f"{reason} (client {client[0] if client else 'unknown'})")
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # closing before accepting answers 403
            return
        body = json.dumps({"error": reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"www-authenticate", b"Bearer"), (b"connection", b"close")]  # the body, if any, is unread
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, headers: list[bytes]) -> str | None:
        """Why a request with these Authorization header values is refused; None when they hold an accepted key."""
        if not headers:
            return MISSING
        if len(headers) > 1:  # which one counts would be a guess; a proxy may have read the other
            return SEVERAL
        scheme, _, key = headers[0].strip().partition(b" ")
        if scheme.lower() != b"bearer" or not key.strip():
            return NOT_BEARER
        digest = _digest(key.strip())
        matched = False
        for known in self.digests:
            matched |= hmac.compare_digest(known, digest)
        return None if matched else WRONG


def _logged_path(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded: anyone can get a refusal logged, and a decoded
    `%0A` in the path would start a forged log line."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    return raw.decode("ascii", "backslashreplace")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost: it may resolve anywhere
        return False


def announce(keys: Collection[str]) -> None:
    """Say at start whether requests need a key: an INFO line when they do, a WARNING when they do not and the
    server listens beyond loopback, where anyone who reaches the port can call it. Only `bentoml serve`'s own
    process knows its host (serving/compat.py), so the line comes once, not once per worker."""
    host = serve_bind_host()
    if host is None:
        return
    if keys:
        log.info("every route but %s needs an API key: %d accepted", ", ".join(sorted(OPEN_PATHS)), len(keys))
    elif not is_loopback(host):
        log.warning(
            "no API key is set (TEXTCLF_API_KEY, TEXTCLF_API_KEY_FILE) and the server listens on %s, beyond "
            "loopback: anyone who can reach the port can call it", host,
        )

"""Who sent a request: a bearer token or an HMAC signature, checked in constant time.

Every request names its sender in ``X-Zw-Client``. The sender then proves
itself in one of two ways:

- ``Authorization: Bearer <token>``: the SHA-256 digest of the token must
  equal the digest in the configuration;
- ``X-Zw-Timestamp`` (Unix seconds) and ``X-Zw-Signature``: the hex
  HMAC-SHA256, under the sender's secret, of
  ``<timestamp>\\n<METHOD>\\n<path>\\n<hex SHA-256 of the body>``, with the
  timestamp within five minutes of the gateway's clock.

A repeated signed request inside those five minutes is harmless: records are
idempotent, so it yields the same outcomes and no second event.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from adapters.gateway.config import Client
from bus.i18n import N_

CLIENT_HEADER = "X-Zw-Client"
TIMESTAMP_HEADER = "X-Zw-Timestamp"
SIGNATURE_HEADER = "X-Zw-Signature"
MAX_CLOCK_SKEW_S = 300


class AuthFailure(Exception):
    """The request did not prove its sender; ``reason`` is an English msgid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signature(secret: bytes, timestamp: str, method: str, path: str, body: bytes) -> str:
    """Return the hex signature a sender puts in ``X-Zw-Signature``."""
    message = "\n".join((timestamp, method.upper(), path, hashlib.sha256(body).hexdigest()))
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def authenticate(
    clients: Mapping[str, Client],
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes,
    now: float | None = None,
) -> Client:
    """Return the sender the request proves it comes from.

    Raises:
        AuthFailure: the sender is unknown or its proof does not hold.
    """
    client = clients.get(headers.get(CLIENT_HEADER, ""))
    if client is None:
        raise AuthFailure(N_("Unknown sender: set X-Zw-Client to the id the bus gave you."))

    authorization = headers.get("Authorization", "")
    if authorization.startswith("Bearer ") and client.token_sha256 is not None:
        presented = hashlib.sha256(authorization.removeprefix("Bearer ").encode()).digest()
        if hmac.compare_digest(presented, client.token_sha256):
            return client
        raise AuthFailure(N_("The bearer token does not match this sender's token."))

    if client.hmac_secret is not None and SIGNATURE_HEADER in headers:
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        if not timestamp.isdigit():
            raise AuthFailure(N_("X-Zw-Timestamp must be the request time in Unix seconds."))
        moment = time.time() if now is None else now
        if abs(moment - int(timestamp)) > MAX_CLOCK_SKEW_S:
            raise AuthFailure(
                N_("X-Zw-Timestamp is more than five minutes off; check the sender's clock.")
            )
        expected = signature(client.hmac_secret, timestamp, method, path, body)
        if hmac.compare_digest(expected.encode(), headers[SIGNATURE_HEADER].encode()):
            return client
        raise AuthFailure(N_("The request signature does not match its body and secret."))

    raise AuthFailure(
        N_("No credentials: send Authorization: Bearer <token> or sign the request.")
    )

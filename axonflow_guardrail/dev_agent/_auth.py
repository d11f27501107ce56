"""Basic-auth credentials as the platform checks them.

With clients configured (`--client ID:SECRET`), only those pass; without, any client id passes
(community-style), and a request with no Authorization header counts as client `community`,
which is what the SDK sends when it has no credentials.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from ._http import ApiError

COMMUNITY_CLIENT = "community"


def _unauthorized(message: str = "Invalid credentials") -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Basic realm="axonflow"'})


class Authenticator:
    """Turns an Authorization header into a client id, or raises a 401 `ApiError`."""

    __slots__ = ("_clients",)

    def __init__(self, clients: Mapping[str, str]) -> None:
        self._clients = dict(clients)

    @property
    def enforcing(self) -> bool:
        return bool(self._clients)

    @property
    def client_ids(self) -> list[str]:
        return sorted(self._clients)

    def authenticate(self, header: str | None) -> str:
        if not header:
            if self._clients:
                raise _unauthorized("Authorization header required")
            return COMMUNITY_CLIENT
        client_id, secret = _decode_basic(header)
        if not self._clients:
            return client_id
        expected = self._clients.get(client_id)
        # compare_digest on both branches keeps the timing independent of the client's existence.
        ok = hmac.compare_digest(
            (expected if expected is not None else "\0").encode(), secret.encode()
        )
        if expected is None or not ok:
            raise _unauthorized()
        return client_id


def decode_client_id(header: str | None) -> str | None:
    """The client id of a Basic header, for logs; never the secret, None if unreadable."""
    if not header:
        return None
    try:
        return _decode_basic(header)[0]
    except ApiError:
        return None


def _decode_basic(header: str) -> tuple[str, str]:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        raise _unauthorized("Authorization must be Basic credentials")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _unauthorized("Authorization must be Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise _unauthorized("Authorization must be Basic credentials")
    return client_id, secret

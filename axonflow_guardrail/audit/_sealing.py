"""User tokens sealed before they reach the outbox: an outbox file or stream alone does not
give away the tokens of the calls waiting in it.

Why: a record that may need a new pre-check (its context expired, or the call passed on
`fail_open`) must carry the caller's AxonFlow user token, which is a secret. It is sealed with
AES-GCM under a key derived (HKDF-SHA256) from the guardrail's `client_secret`, which lives in
the proxy's configuration, not in the outbox; the shipper, given the same configuration,
opens it. The guardrail's `default_user_token` is never stored (the shipper has its own).

The trade-off, said in the README: without a `client_secret` (a community agent) the key comes
from the client id alone, which is no secret: the seal then only keeps tokens from being read
at a glance. A changed `client_secret` makes waiting tokens unreadable: those records become
dead letters with that reason, never audited under another identity.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["TokenSeal"]

_SALT = b"axonflow-guardrail audit outbox v1"
_NONCE_BYTES = 12


class TokenSeal:
    """Seals and opens user tokens with a key only the guardrail's configuration gives."""

    def __init__(self, *, client_id: str, client_secret: str) -> None:
        secret = (client_secret or client_id).encode()
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=_SALT, info=client_id.encode()
        ).derive(secret)
        self._aead = AESGCM(key)
        #: False when there is no client secret: the seal is then an obfuscation only.
        self.protects = bool(client_secret)

    def seal(self, token: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, token.encode(), None)
        return base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The token, or None when it was sealed under another key (or is damaged)."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None)
        except (InvalidTag, ValueError, binascii.Error):
            return None
        return plain.decode()

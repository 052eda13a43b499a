"""Signed session tokens for shoppers.

A token names a session and when it was issued, signed with HMAC-SHA256 under the
gateway secret: `v1.<session id>.<issued at, unix s>.<signature>`. The widget keeps it
and sends it back; the gateway trusts only what the signature covers, so a shopper can
never pick another shopper's session (and with it the Rasa sender id).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

VERSION = "v1"
MAX_TOKEN_CHARS = 256
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InvalidToken(ValueError):
    """The token is malformed, forged or expired; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SessionToken:
    session_id: str
    issued_at: int


class TokenSigner:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        if not secret:
            raise ValueError("the gateway secret must not be empty")
        self._key = secret.encode()
        self.ttl_seconds = ttl_seconds

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def issue(self, now: float | None = None) -> tuple[str, SessionToken]:
        session = SessionToken(secrets.token_urlsafe(16), int(now or time.time()))
        body = f"{VERSION}.{session.session_id}.{session.issued_at}"
        return f"{body}.{self._sign(body)}", session

    def verify(self, token: object, now: float | None = None) -> SessionToken:
        """The session a token names; `InvalidToken` for anything else a client may send
        (any type, any characters, any length)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidToken("malformed")
        parts = token.split(".")
        if (
            len(parts) != 4
            or parts[0] != VERSION
            or not SESSION_ID.fullmatch(parts[1])
            or not parts[2].isdigit()
            or len(parts[2]) > 12
        ):
            raise InvalidToken("malformed")
        body = ".".join(parts[:3])
        if not hmac.compare_digest(self._sign(body).encode(), parts[3].encode()):
            raise InvalidToken("bad_signature")
        issued_at = int(parts[2])
        if (now or time.time()) - issued_at > self.ttl_seconds:
            raise InvalidToken("expired")
        return SessionToken(parts[1], issued_at)

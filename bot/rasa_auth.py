"""How the app authenticates to Rasa's HTTP API: a JWT in the Authorization header.

Rasa 3.6 also takes its token as `?token=` in the URL, but URLs end up in access logs and
proxies; a JWT travels in a header. Rasa is started with `--jwt-secret` set to RASA_TOKEN
(given to it through the environment, see rasa_runtime/launch.py) and then accepts an
HS256 token signed with that secret whose user has the role `admin` on every endpoint
(rasa/server.py, `requires_auth`). The token has no expiry: it is as long-lived as the
secret it is signed with, which never leaves this machine's processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from bot.settings import Settings

USER = {"username": "knt", "role": "admin"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rasa_jwt(secret: str) -> str:
    """An HS256 JWT `{"user": {"username": "knt", "role": "admin"}}` signed with `secret`
    (RFC 7519; written out here because the app runtime does not need a JWT library for
    one fixed token)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps({"user": USER}, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def rasa_auth_headers(settings: Settings) -> dict[str, str]:
    """Headers for a call to Rasa's HTTP API (never put the token in a URL)."""
    return {"Authorization": f"Bearer {rasa_jwt(settings.rasa_token.get_secret_value())}"}

"""Agent passwords (argon2), the session secret, CSRF tokens and console socket tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from frontdesk.errors import ConfigError

_HASHER = PasswordHasher()
SOCKET_TOKEN_SECONDS = 12 * 3600


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Checked against when the name is unknown, so an unknown name takes as long as a known one
# (response times do not tell which agent names exist).
_UNKNOWN_NAME_HASH = _HASHER.hash(secrets.token_urlsafe(16))


async def check_login(stored_hash: str | None, password: str) -> bool:
    """argon2 is slow on purpose: it runs in a worker thread, never on the event loop (where
    it would delay every customer's reply), and the same for known and unknown names."""
    found = bool(stored_hash)
    ok = await asyncio.to_thread(verify_password, stored_hash or _UNKNOWN_NAME_HASH, password)
    return found and ok


def load_secret(value: str, data_dir: Path) -> bytes:
    """SECRET_KEY (32 bytes, url-safe base64) or a key generated once and kept in DATA_DIR."""
    if value:
        try:
            key = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ConfigError("SECRET_KEY must be 32 bytes in url-safe base64 (43-44 characters)")
        return key
    path = data_dir / "secret.key"
    if path.is_file():
        return base64.urlsafe_b64decode(path.read_bytes().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(key))
    return key


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: object, given: object) -> bool:
    if not isinstance(expected, str) or not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def socket_token(secret: bytes, agent: str, now: float | None = None) -> str:
    """A signed, expiring token the console page hands to its Socket.IO connection."""
    expires = int((now or time.time()) + SOCKET_TOKEN_SECONDS)
    body = f"{agent}:{expires}"
    signature = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}:{signature}"


def agent_from_token(secret: bytes, token: object, now: float | None = None) -> str | None:
    if not isinstance(token, str) or token.count(":") < 2:
        return None
    body, _, signature = token.rpartition(":")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    agent, _, expires = body.rpartition(":")
    if not expires.isdigit() or int(expires) < (now or time.time()):
        return None
    return agent

"""Files on disk under random names, and the signed, expiring links that serve them.

A file is `<dir>/<id>` (32 random hex characters) with its description in `<dir>/<id>.json`
(name, type, size, owner). The type is what the bytes are (frontdesk.files.sniff), checked
against the allowed types before anything is written. Transcript entries keep only
`{id, name, type, size}`; a link (`/files/<id>?exp=…&sig=…`, HMAC-SHA256 under the app secret
over the path and the expiry) is made each time an entry is sent, never stored."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontdesk.errors import FrontdeskError
from frontdesk.files.sniff import EXTENSIONS, is_image, sniff

FILE_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_NAME = 120
_LINK_CONTEXT = b"frontdesk file v1\x00"
_UNSAFE_NAME = re.compile(r"[^\w .()+-]", re.UNICODE)


class FileRefused(FrontdeskError):
    """A file that may not be kept: `code` is file_type, file_too_large or file_empty."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    type: str
    size: int
    owner: str  # the conversation id of a customer's file; "agent:<name>" for an agent's

    @property
    def image(self) -> bool:
        return is_image(self.type)

    def public(self) -> dict[str, Any]:
        """What a transcript entry keeps."""
        return {"id": self.id, "name": self.name, "type": self.type, "size": self.size}


@dataclass(frozen=True)
class FilePolicy:
    max_bytes: int
    types: tuple[str, ...]

    def check(self, data: bytes) -> str:
        """The file's type, or FileRefused."""
        if not data:
            raise FileRefused("file_empty", "the file is empty")
        if len(data) > self.max_bytes:
            raise FileRefused("file_too_large", f"the file is over {self.max_bytes} bytes")
        kind = sniff(data)
        if kind is None or kind not in self.types:
            raise FileRefused("file_type", f"the file is not one of {', '.join(self.types)}")
        return kind

    def describe(self) -> dict[str, Any]:
        """For the refusal messages and the widget: the limit and the types, readably."""
        names = sorted({EXTENSIONS[t].upper().replace("JPG", "JPEG") for t in self.types})
        return {"limit_mb": megabytes(self.max_bytes), "types": ", ".join(names)}


def megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f}" if value >= 1 else f"{math.ceil(value * 10) / 10:g}"


def clean_name(name: str, kind: str) -> str:
    """A name safe to show and to send in Content-Disposition, with the real type's extension."""
    base = _UNSAFE_NAME.sub("_", os.path.basename(name.replace("\\", "/"))).strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[: MAX_NAME - 6] or ("photo" if is_image(kind) else "file")
    return f"{stem}.{EXTENSIONS[kind]}"


class FileStore:
    def __init__(self, directory: Path, policy: FilePolicy) -> None:
        self.directory = directory
        self.policy = policy

    def path(self, file_id: str) -> Path:
        if not FILE_ID.match(file_id):
            raise ValueError("not a file id")
        return self.directory / file_id

    async def save(self, data: bytes, name: str, owner: str) -> Attachment:
        """Check and keep the bytes (FileRefused when they may not be kept)."""
        kind = self.policy.check(data)
        attachment = Attachment(
            secrets.token_hex(16), clean_name(name, kind), kind, len(data), owner
        )
        await asyncio.to_thread(self._write, attachment, data)
        return attachment

    def _write(self, attachment: Attachment, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(attachment.id)
        meta = {**attachment.public(), "owner": attachment.owner, "at": round(time.time(), 3)}
        for target, body in ((path, data), (path.with_suffix(".json"), json.dumps(meta).encode())):
            temporary = target.with_name(target.name + ".part")
            temporary.write_bytes(body)
            os.replace(temporary, target)

    async def get(self, file_id: Any) -> Attachment | None:
        if not isinstance(file_id, str) or not FILE_ID.match(file_id):
            return None
        return await asyncio.to_thread(self._read_meta, file_id)

    def _read_meta(self, file_id: str) -> Attachment | None:
        try:
            meta = json.loads(self.path(file_id).with_suffix(".json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return Attachment(
            file_id, str(meta["name"]), str(meta["type"]), int(meta["size"]), str(meta["owner"])
        )

    async def read(self, file_id: str) -> bytes:
        return await asyncio.to_thread(self.path(file_id).read_bytes)

    async def forget_owner(self, owner: str) -> list[str]:
        """Erasure: delete every file a customer (a conversation id) sent."""
        return await asyncio.to_thread(self._forget_owner, owner)

    def _forget_owner(self, owner: str) -> list[str]:
        removed: list[str] = []
        if not self.directory.is_dir():
            return removed
        for meta_path in self.directory.glob("*.json"):
            try:
                meta = json.loads(meta_path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if meta.get("owner") != owner:
                continue
            for path in (meta_path.with_suffix(""), meta_path):
                path.unlink(missing_ok=True)
            removed.append(f"file {meta_path.stem} ({meta.get('name', '')})")
        return removed


class FileLinks:
    """Signed, expiring links to files; entries are signed as they are sent."""

    def __init__(
        self,
        secret: bytes,
        ttl: float,
        base_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self.ttl = ttl
        self.base_url = base_url.rstrip("/")
        self._clock = clock

    def _sig(self, file_id: str, exp: int) -> str:
        message = _LINK_CONTEXT + f"/files/{file_id}?exp={exp}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def path(self, file_id: str, ttl: float | None = None) -> str:
        exp = int(self._clock() + (self.ttl if ttl is None else ttl))
        return f"/files/{file_id}?exp={exp}&sig={self._sig(file_id, exp)}"

    def url(self, file_id: str, ttl: float | None = None) -> str:
        """An absolute link (PUBLIC_URL), for platforms that fetch the file themselves."""
        return self.base_url + self.path(file_id, ttl)

    def valid(self, file_id: str, exp: str, sig: str) -> bool:
        if not FILE_ID.match(file_id) or not exp.isdigit() or len(exp) > 12 or len(sig) > 100:
            return False
        if int(exp) < self._clock():
            return False
        return hmac.compare_digest(self._sig(file_id, int(exp)).encode(), sig.encode())

    def signed(self, attachment: Mapping[str, Any]) -> dict[str, Any]:
        return {**attachment, "url": self.path(str(attachment.get("id", "")))}

    def sign_entry(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """The entry with a link on its attachment (unchanged when it has none)."""
        attachment = entry.get("attachment")
        if not isinstance(attachment, Mapping) or not FILE_ID.match(str(attachment.get("id"))):
            return dict(entry)
        return {**entry, "attachment": self.signed(attachment)}

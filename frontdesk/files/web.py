"""HTTP for photos and files: the widget's upload (POST /widget/upload) and the signed,
expiring download (GET /files/<id>?exp=…&sig=…).

The upload is multipart/form-data (`session_id`, `token` — the conversation's resume token —
then `file`), or the raw bytes with `session_id`, `token` and `name` in the query string. Only
the conversation's owner may upload. It answers `{ok: true, attachment: {id, name, type, size,
url}}`; the widget then sends `user_uttered {attachment_id, message?}`. A refused file answers
`{ok: false, error: {code, message}}` (413 too large, 415 not an allowed type) in the
conversation's language; nothing is stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from frontdesk.files.storage import Attachment, FileLinks, FilePolicy, FileRefused, FileStore

log = logging.getLogger(__name__)

FILES = web.AppKey("files", FileStore)
FILE_LINKS = web.AppKey("file_links", FileLinks)
CHUNK = 64 * 1024
MAX_FIELD = 1024
STATUS = {"file_too_large": 413, "file_type": 415, "file_empty": 400}


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    name: str = ""
    too_large: bool = False


async def read_upload(request: web.Request, limit: int) -> Upload:
    """The upload's fields and bytes: never more than `limit` + 1 bytes are kept; a larger
    file is read to its end (up to a bound) and marked too large, so the client gets the answer."""
    upload = Upload(fields={k: v for k, v in request.query.items() if len(v) <= MAX_FIELD})
    if request.content_type != "multipart/form-data":
        upload.name = upload.fields.get("name", "")
        upload.data, upload.too_large = await _read_limited(request.content, limit)
        return upload
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.filename is not None and part.name == "file" and not upload.data:
                upload.name = part.filename
                upload.data, upload.too_large = await _read_limited(part, limit)
            elif part.name:
                value = await part.read(decode=True)
                if len(value) <= MAX_FIELD:
                    upload.fields[part.name] = value.decode("utf-8", "replace")
    except (ValueError, AssertionError) as exc:
        raise web.HTTPBadRequest(text=f"the upload is not valid multipart: {exc}") from None
    return upload


async def _read_limited(source: Any, limit: int) -> tuple[bytes, bool]:
    kept = bytearray()
    total = 0
    bound = limit * 2 + 1024 * 1024  # read this far to answer politely; beyond it, stop
    while total <= bound:
        if isinstance(source, BodyPartReader):
            chunk = await source.read_chunk(CHUNK)
        else:
            chunk = await source.read(CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if len(kept) <= limit:
            kept.extend(chunk[: limit + 1 - len(kept)])
    return bytes(kept), total > limit


async def store_upload(
    files: FileStore, upload: Upload, owner: str
) -> tuple[Attachment | None, FileRefused | None]:
    if upload.too_large:
        return None, FileRefused("file_too_large", "too large")
    try:
        return await files.save(upload.data, upload.name, owner), None
    except FileRefused as exc:
        return None, exc


def refusal_status(code: str) -> int:
    return STATUS.get(code, 400)


async def serve_file(request: web.Request) -> web.StreamResponse:
    """GET /files/<id>?exp=…&sig=…: only through a valid, unexpired signature."""
    file_id = request.match_info["file_id"]
    exp, sig = request.query.get("exp", ""), request.query.get("sig", "")
    if not request.app[FILE_LINKS].valid(file_id, exp, sig):
        raise web.HTTPForbidden(text="This link is not valid or has expired.")
    files = request.app[FILES]
    found = await files.get(file_id)
    if found is None:
        raise web.HTTPNotFound(text="This file is no longer available.")
    disposition = "inline" if found.image else "attachment"
    name = quote(found.name, safe="")
    headers = {
        "Content-Type": found.type,
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{name}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
        "Cache-Control": "private, max-age=300",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    return web.FileResponse(files.path(file_id), headers=headers)


def cors_headers(request: web.Request, origins: tuple[str, ...]) -> dict[str, str]:
    origin = request.headers.get("Origin", "")
    if origins == ("*",):
        allowed = "*"
    elif origin in origins:
        allowed = origin
    else:
        return {}
    return {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Vary": "Origin",
    }


def describe(policy: FilePolicy) -> dict[str, Any]:
    """What the widget is told about uploads (widget_config.files)."""
    shown = policy.describe()
    return {
        "max_bytes": policy.max_bytes,
        "types": list(policy.types),
        "limit_mb": shown["limit_mb"],
        "types_text": shown["types"],
    }

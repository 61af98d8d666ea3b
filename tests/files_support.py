"""Files for the attachment tests: a real PNG, a real PDF and an executable renamed .png."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer


def png(width: int = 2, height: int = 2, extra: int = 0) -> bytes:
    """A valid PNG (red pixels); `extra` bytes of an ancillary chunk make it bigger."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    padding = chunk(b"tEXt", b"c\x00" + b"x" * extra) if extra else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + padding
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


async def upload(
    server: TestServer, session_id: str, token: str, name: str, data: bytes
) -> tuple[int, dict[str, Any]]:
    """POST /widget/upload as frontdesk's widget does (multipart)."""
    form = aiohttp.FormData()
    form.add_field("session_id", session_id)
    form.add_field("token", token)
    form.add_field("file", data, filename=name, content_type="image/png")
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.make_url("/widget/upload"), data=form) as resp,
    ):
        return resp.status, await resp.json()


async def fetch(server: TestServer, path: str) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(server.make_url(path)) as resp:
        return resp.status, await resp.read(), dict(resp.headers)

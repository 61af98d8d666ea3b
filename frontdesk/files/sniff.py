"""What a file is, from its first bytes (magic numbers), never from its name or declared type.

Only types a browser shows safely are known: raster images and PDF. SVG, HTML and anything
else are unknown, so they can never be allowed."""

from __future__ import annotations

# name in ATTACHMENT_TYPES -> MIME type; "jpg" is a second name for JPEG
TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
}
HEAD = 16  # bytes sniff() needs


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes are, or None when they are none of the known types."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def is_image(mime: str) -> bool:
    return mime.startswith("image/")

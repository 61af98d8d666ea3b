"""The console may not be framed by other sites and loads only its own scripts; logging in
checks passwords off the event loop, unknown names the same way as known ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from frontdesk.console.auth import check_login, hash_password


async def test_console_pages_forbid_framing_and_foreign_scripts(
    offline_gateway: Callable[..., Any],
) -> None:
    server = await offline_gateway()
    async with aiohttp.ClientSession() as http:
        for path, status in (("/console/login", 200), ("/console/", 302)):
            url = server.make_url(path)
            async with http.get(url, allow_redirects=False) as resp:
                assert resp.status == status
                assert resp.headers["X-Frame-Options"] == "DENY"
                csp = resp.headers["Content-Security-Policy"]
                assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp


async def test_check_login() -> None:
    stored = hash_password("right-pass")
    assert await check_login(stored, "right-pass")
    assert not await check_login(stored, "wrong-pass")
    assert not await check_login(None, "right-pass")  # unknown name: hashed anyway, refused
    assert not await check_login("", "")

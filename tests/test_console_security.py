"""Console sign-in against attackers: failed logins are throttled per user name and per client
address (state in real Redis, lockouts that end), unknown names take as long as known ones,
argon2 runs off the event loop, X-Forwarded-* headers count only from trusted proxies, and
every console answer forbids framing and foreign scripts."""

from __future__ import annotations

import asyncio
import re
import statistics
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

import frontdesk.console.auth as auth
from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK
from frontdesk.errors import StoreUnavailable

PASSWORD = "correct horse"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOO_MANY = re.compile(r"Too many failed attempts; try again in \d+ seconds?\.")
COOKIE = "frontdesk_console"


class LoginPage:
    """A browser at the login page: fetches the form (and its CSRF token), then posts it."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def attempt(
        self, name: str, password: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, Any]:
        url = self.server.make_url("/console/login")
        async with self.http.get(url, headers=headers) as resp:
            token = CSRF.search(await resp.text())
        assert token, "the login page has a CSRF token"
        form = {"username": name, "password": password, "csrf_token": token.group(1)}
        async with self.http.post(url, data=form, headers=headers, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers

    async def status(self, name: str, password: str, headers: dict[str, str] | None = None) -> int:
        return (await self.attempt(name, password, headers))[0]

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def page() -> AsyncIterator[Callable[[TestServer], LoginPage]]:
    pages: list[LoginPage] = []

    def make(server: TestServer) -> LoginPage:
        pages.append(LoginPage(server))
        return pages[-1]

    yield make
    for made in pages:
        await made.close()


async def _with_agent(offline_gateway: Callable[..., Any], **overrides: str) -> TestServer:
    server: TestServer = await offline_gateway(**overrides)
    fields = {"display_name": "Maria", "password_hash": hash_password(PASSWORD)}
    await server.app[DESK].agents.save("maria", fields)
    return server


def _spy_on_argon2(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads argon2 verifications ran in, one entry per verification."""
    threads: list[int] = []
    verify = auth.verify_password

    def spy(stored_hash: str, password: str) -> bool:
        threads.append(threading.get_ident())
        return verify(stored_hash, password)

    monkeypatch.setattr(auth, "verify_password", spy)
    return threads


async def _until_not_refused(
    page: LoginPage, name: str, password: str, headers: dict[str, str] | None = None
) -> int:
    """Keep trying (as an impatient user would) until an attempt is not refused with 429."""
    deadline = time.monotonic() + 20
    while (status := await page.status(name, password, headers)) == 429:
        assert time.monotonic() < deadline, "the lockout never ended"
        await asyncio.sleep(0.05)
    return status


async def test_a_name_is_locked_out_after_five_failures_for_a_bounded_doubling_time(
    offline_gateway: Callable[..., Any],
    page: Callable[[TestServer], LoginPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await _with_agent(offline_gateway, LOGIN_LOCKOUT="2", LOGIN_MAX_LOCKOUT="4")
    argon2_threads = _spy_on_argon2(monkeypatch)
    browser = page(server)
    for _ in range(5):
        assert await browser.status("maria", "guess") == 401
    # The sixth try is refused with a clear message, before any password hashing ...
    hashed = len(argon2_threads)
    status, html, headers = await browser.attempt("maria", "guess")
    assert status == 429 and TOO_MANY.search(html), html
    assert 1 <= int(headers["Retry-After"]) <= 2
    # ... and so is the right password while the lockout lasts.
    status, html, _ = await browser.attempt("maria", PASSWORD)
    assert status == 429 and TOO_MANY.search(html)
    assert len(argon2_threads) == hashed
    # Argon2 ran for every attempt that was let through, never on the event loop's thread.
    assert hashed == 5 and threading.get_ident() not in argon2_threads
    # Another name from the same address is not locked by maria's lockout.
    assert await browser.status("ada", "guess") == 401

    # Hammering during the lockout does not extend it: it ends on time; the next failure
    # locks the name again for twice as long.
    assert await _until_not_refused(browser, "maria", "guess") == 401
    status, html, headers = await browser.attempt("maria", PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) >= 3, headers
    # The right password once the lockout is over signs in and starts the count afresh.
    assert await _until_not_refused(browser, "maria", PASSWORD) == 302
    for _ in range(5):
        assert await browser.status("maria", "guess") == 401
    assert await browser.status("maria", PASSWORD) == 429


async def test_one_address_is_locked_out_after_failures_across_many_names(
    offline_gateway: Callable[..., Any], page: Callable[[TestServer], LoginPage]
) -> None:
    server = await _with_agent(
        offline_gateway, TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8", LOGIN_MAX_FAILURES_PER_ADDRESS="6"
    )
    browser = page(server)
    # The client behind two trusted proxies; what the client itself put in X-Forwarded-For
    # (the leftmost entry) changes every time and does not matter.
    for i in range(6):
        via = {"X-Forwarded-For": f"192.0.2.{i}, 203.0.113.9, 10.0.0.7"}
        assert await browser.status(f"guess{i}", "guess", via) == 401
    via = {"X-Forwarded-For": "192.0.2.99, 203.0.113.9, 10.0.0.7"}
    status, html, _ = await browser.attempt("maria", PASSWORD, via)
    assert status == 429 and TOO_MANY.search(html)
    # Maria, from her own address, is not affected.
    assert await browser.status("maria", PASSWORD, {"X-Forwarded-For": "198.51.100.4"}) == 302

    # An IPv6 client counts by its /64: hopping addresses inside it does not help.
    for i in range(1, 7):
        xff = {"X-Forwarded-For": f"2001:db8:1:2::{i}"}
        assert await browser.status(f"other{i}", "guess", xff) == 401
    assert await browser.status("maria", PASSWORD, {"X-Forwarded-For": "2001:db8:1:2::ff"}) == 429
    assert await browser.status("maria", PASSWORD, {"X-Forwarded-For": "2001:db8:1:3::1"}) == 302


async def test_forwarded_for_from_an_untrusted_peer_does_not_escape_the_address_limit(
    offline_gateway: Callable[..., Any], page: Callable[[TestServer], LoginPage]
) -> None:
    server = await _with_agent(offline_gateway, LOGIN_MAX_FAILURES_PER_ADDRESS="6")
    browser = page(server)
    for i in range(6):
        spoofed = {"X-Forwarded-For": f"203.0.113.{i}"}
        assert await browser.status(f"guess{i}", "guess", spoofed) == 401
    spoofed = {"X-Forwarded-For": "198.51.100.4"}
    assert await browser.status("maria", PASSWORD, spoofed) == 429


async def test_unknown_names_take_as_long_as_known_ones(
    offline_gateway: Callable[..., Any], page: Callable[[TestServer], LoginPage]
) -> None:
    """If an unknown name were answered without hashing, its answer would come many times
    sooner than a known name's (argon2 takes tens of milliseconds): agent names would leak."""
    server = await _with_agent(
        offline_gateway, LOGIN_MAX_FAILURES="1000", LOGIN_MAX_FAILURES_PER_ADDRESS="1000"
    )
    browser = page(server)
    url = server.make_url("/console/login")
    async with browser.http.get(url) as resp:
        token = CSRF.search(await resp.text())
    assert token

    async def timed(name: str) -> float:
        form = {"username": name, "password": "not it", "csrf_token": token.group(1)}
        start = time.perf_counter()
        async with browser.http.post(url, data=form) as resp:
            assert resp.status == 401
            await resp.read()
        return time.perf_counter() - start

    await timed("maria"), await timed("nobody-here")  # warm up
    known, unknown = [], []
    for i in range(10):  # interleaved, so a slow moment of the machine hits both
        known.append(await timed("maria"))
        unknown.append(await timed(f"nobody-{i}"))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 1 / 3 < ratio < 3, (known, unknown)


async def _session_cookie(
    server: TestServer, headers: dict[str, str] | None = None
) -> tuple[bool, str, str]:
    """(is the session cookie Secure, its value, the page's CSRF token) for a fresh visitor."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.get(server.make_url("/console/login"), headers=headers) as resp,
    ):
        morsel = resp.cookies[COOKIE]
        token = CSRF.search(await resp.text())
        assert token
        return bool(morsel["secure"]), morsel.value, token.group(1)


async def test_session_cookie_is_secure_over_https_as_told_by_a_trusted_proxy_only(
    offline_gateway: Callable[..., Any],
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    behind_proxy = await _with_agent(offline_gateway, TRUSTED_PROXIES="127.0.0.1")
    assert (await _session_cookie(behind_proxy, https))[0]
    assert not (await _session_cookie(behind_proxy))[0]
    assert not (await _session_cookie(behind_proxy, {"X-Forwarded-Proto": "http"}))[0]

    # Signing in over HTTPS: the new session's cookie (on the redirect) is Secure too.
    _, value, token = await _session_cookie(behind_proxy, https)
    form = {"username": "maria", "password": PASSWORD, "csrf_token": token}
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.post(
            behind_proxy.make_url("/console/login"),
            data=form,
            headers={**https, "Cookie": f"{COOKIE}={value}"},
            allow_redirects=False,
        ) as resp,
    ):
        assert resp.status == 302
        assert resp.cookies[COOKIE]["secure"]

    # Anyone else's X-Forwarded-Proto is ignored.
    direct = await offline_gateway()
    assert not (await _session_cookie(direct, https))[0]
    # A site published at an https PUBLIC_URL always sets Secure cookies (as before).
    published = await offline_gateway(PUBLIC_URL="https://desk.example.com")
    assert (await _session_cookie(published))[0]


def _forbids_framing(headers: Any) -> bool:
    csp = headers.get("Content-Security-Policy", "")
    return bool(
        headers.get("X-Frame-Options") == "DENY"
        and "frame-ancestors 'none'" in csp
        and "script-src 'self'" in csp
        and headers.get("X-Content-Type-Options") == "nosniff"
    )


async def test_every_console_answer_forbids_framing_and_foreign_scripts(
    offline_gateway: Callable[..., Any],
    page: Callable[[TestServer], LoginPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await _with_agent(offline_gateway, LOGIN_MAX_FAILURES="1")
    browser = page(server)
    async with aiohttp.ClientSession() as http:
        for path, expected in (
            ("/console/login", 200),
            ("/console/", 302),
            ("/console/static/console.css", 200),
            ("/console/no-such-page", 404),
        ):
            async with http.get(server.make_url(path), allow_redirects=False) as resp:
                assert resp.status == expected, path
                assert _forbids_framing(resp.headers), path
        async with http.post(server.make_url("/console/login"), data={}) as resp:
            assert resp.status == 403 and _forbids_framing(resp.headers)  # no CSRF token
    status, _, headers = await browser.attempt("maria", "guess")
    assert status == 401 and _forbids_framing(headers)
    status, _, headers = await browser.attempt("maria", "guess")
    assert status == 429 and _forbids_framing(headers)

    async def store_down(name: str) -> dict[str, str]:
        raise StoreUnavailable("Redis: Connection refused (test)")

    monkeypatch.setattr(server.app[DESK].agents, "get", store_down)
    status, _, headers = await browser.attempt("ada", "guess")
    assert status == 503 and _forbids_framing(headers)

"""Who sent a console request, and over which scheme, when the gateway sits behind proxies.

X-Forwarded-For and X-Forwarded-Proto are believed only from a configured proxy
(TRUSTED_PROXIES): anyone can send them, so from anyone else they are ignored and the socket
peer and the connection's own scheme count. The client is the first address, reading
X-Forwarded-For from the right (the hop nearest the gateway), that is not a trusted proxy.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import MultiMapping

from frontdesk.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(value: str) -> IPAddress | None:
    """An address from a header hop: '203.0.113.7', '2001:db8::1', '[2001:db8::1]:443' or
    '203.0.113.7:5000'; None when it is none of these."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class TrustedProxies:
    def __init__(self, networks: tuple[IPNetwork, ...] = ()) -> None:
        self.networks = networks

    def trusts(self, ip: IPAddress | None) -> bool:
        return ip is not None and any(ip in network for network in self.networks)

    def resolve(
        self, peer: str | None, headers: MultiMapping[str]
    ) -> tuple[str | None, str | None]:
        """(client address, scheme the client used or None when the proxy did not say) for a
        request from `peer`; (peer, None) unless peer is a trusted proxy."""
        if not self.trusts(_address(peer or "")):
            return peer, None
        client = peer
        hops = ",".join(headers.getall("X-Forwarded-For", ())).split(",")
        for hop in reversed([h for h in hops if h.strip()]):
            ip = _address(hop)
            if ip is None:  # not an address: stop at the last hop we could read
                break
            client = str(ip)
            if not self.trusts(ip):
                break
        # The value nearest the gateway is the one the trusted proxy set (or appended).
        proto_header = ",".join(headers.getall("X-Forwarded-Proto", ()))
        protos = [p.strip().lower() for p in proto_header.split(",")]
        proto = protos[-1] if protos[-1] in ("http", "https") else None
        return client, proto


def forwarded_middleware(proxies: TrustedProxies) -> Middleware:
    """The request as the client made it (remote = the client, scheme = https when the trusted
    proxy says so), and every cookie set over HTTPS marked Secure."""

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        client, scheme = proxies.resolve(request.remote, request.headers)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        if scheme is not None and scheme != request.scheme:
            request = request.clone(scheme=scheme)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects (after login) set cookies too
            _secure_cookies(request, exc)
            raise
        _secure_cookies(request, response)
        return response

    return forwarded


def _secure_cookies(request: web.Request, response: web.StreamResponse) -> None:
    if request.secure:
        for morsel in response.cookies.values():
            morsel["secure"] = True

"""Socket.IO input that no event handler can take, answered instead of raised.

python-socketio hands a namespace whatever a client sends: an event name that is not text or
that no handler has, extra arguments; and its packet class raises on a packet that is not JSON,
is nested deeper than the JSON decoder goes, or is not a list `[name, data]`, which the server
logs with a traceback and answers with nothing. Here:

- `SafePacket` (the server's packet class) turns such a packet into an event named BAD_PACKET,
  keeping its namespace and ack id, so the namespace answers it like any other bad event;
- `refusal()` tells a namespace's `trigger_event` which events no handler takes, and why; the
  namespace answers those with an error ack `{ok: false, error: {code, message}}`.
"""

from __future__ import annotations

from typing import Any

from socketio import packet

BAD_PACKET = "frontdesk:bad_packet"  # no handler has this name (":" is in no method name)
LIFECYCLE = ("connect", "disconnect")
_FROM_CLIENTS = (
    packet.CONNECT,
    packet.DISCONNECT,
    packet.EVENT,
    packet.ACK,
    packet.BINARY_EVENT,
    packet.BINARY_ACK,
)


class SafePacket(packet.Packet):  # type: ignore[misc]
    """A packet a client could not have meant becomes a BAD_PACKET event."""

    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments = int(super().decode(encoded_packet) or 0)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            return self._unreadable(f"the packet is not Socket.IO JSON ({type(exc).__name__})")
        if self.packet_type not in _FROM_CLIENTS:
            return self._unreadable("a client cannot send this packet type")
        events = (packet.EVENT, packet.BINARY_EVENT)
        if self.packet_type in events and not (isinstance(self.data, list) and self.data):
            return self._unreadable("an event is a list: [name, data]")
        return attachments

    def add_attachment(self, attachment: Any) -> bool:
        try:
            return bool(super().add_attachment(attachment))
        except (IndexError, KeyError, TypeError, RecursionError):  # placeholders that do not fit
            self.data = [BAD_PACKET, "binary attachments do not match the packet"]
            if self.packet_type == packet.BINARY_ACK:
                self.data = []
            return True

    def _unreadable(self, reason: str) -> int:
        self.packet_type = packet.EVENT
        self.data = [BAD_PACKET, reason]
        return 0


def refusal(namespace: Any, event: Any, args: tuple[Any, ...]) -> tuple[str, str] | None:
    """(code, message) for an event no handler of `namespace` takes; None for one that is
    handled. python-socketio also calls trigger_event for a connection starting or ending
    ("connect", "disconnect"), while the client is not (or no longer) connected; a connected
    client that sends an event of one of those names is refused, like any unknown name."""
    if event in LIFECYCLE:
        sid = args[0] if args else None
        if namespace.server.manager.is_connected(sid, namespace.namespace):
            return "bad_request", f"{event!r} is a reserved event name"
        return None
    if event == BAD_PACKET:
        reason = args[1] if len(args) == 2 else None
        return "bad_request", reason if isinstance(reason, str) else "unreadable packet"
    if not isinstance(event, str) or not hasattr(namespace, f"on_{event}"):
        return "unknown_event", "there is no such event"
    if len(args) > 2:  # the sid and one argument
        return "bad_request", f"{event} takes one argument"
    return None


def refused(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}

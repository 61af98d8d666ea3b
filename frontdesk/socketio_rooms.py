"""Socket.IO rooms indexed by connection: a disconnect costs its own rooms, not every room.

python-socketio's manager keeps `rooms[namespace][room] -> {sid: eio_sid}` only, so a
disconnect (and `get_rooms`) looks through every room of the namespace for the leaving sid:
each connection has a room of its own and each conversation one, so with N connections a
disconnect is O(N) and N disconnects O(N²). With 5,000 widgets on a process that is killed
(bench/cluster.py's reconnect storm) the others spent most of their time in that loop while
thousands reconnected and left. `RoomIndex` also keeps `(namespace, sid) -> rooms`, updated
wherever python-socketio enters or leaves a room, and disconnects from those rooms only.
"""

from __future__ import annotations

from typing import Any

import socketio


class RoomIndex(socketio.AsyncManager):  # type: ignore[misc]
    """A manager that knows each connection's rooms (mix in before python-socketio's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms_of: dict[tuple[str, str], set[Any]] = {}

    def basic_enter_room(
        self, sid: str, namespace: str, room: Any, eio_sid: str | None = None
    ) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        rooms = self._rooms_of.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._rooms_of[(namespace, sid)]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """python-socketio's, with the connection's rooms from the index."""
        if namespace not in self.rooms:
            return
        rooms = self._rooms_of.pop((namespace, sid), set())
        for room in sorted(rooms, key=lambda r: r is None):  # the namespace's own room last
            super().basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]

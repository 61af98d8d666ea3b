"""Socket.IO emits without a Task per recipient.

python-socketio's AsyncManager.emit makes an asyncio Task for every recipient of every emit and
waits for them all, although sending a packet to a recipient only puts it on that connection's
queue (Engine.IO's writer task does the socket write): a Task, its scheduling and an
`asyncio.wait` per relayed message, to put one item on a queue (bench/relay.py --profile).
`DirectEmit` puts the packet on each recipient's queue in turn, encoded once. Emits with a
callback (an ack id per recipient) keep the library's way.

It is the manager of a single process, and the base of the Redis manager
(frontdesk.socketio_redis), whose pub/sub emit ends in this local one on every process.
`TimedPoll` takes a Task per packet out of Engine.IO's writer in the same way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from engineio import exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket
from socketio import packet
from socketio.async_pubsub_manager import AsyncPubSubManager

from frontdesk.socketio_rooms import RoomIndex

log = logging.getLogger(__name__)

MAX_READ_PAUSE = 0.1  # seconds a client sending too fast is not read


class DirectEmit(socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback:
            await super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
            return
        room = to or room
        if namespace not in self.rooms:
            return
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        recipients = [eio for sid, eio in self.get_participants(namespace, room) if sid not in skip]
        if not recipients:
            return
        # a tuple is several arguments, anything else one
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frames = [
            eio_packet.Packet(eio_packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        send = self.server.eio.send_packet
        for eio_sid in recipients:
            try:
                for frame in frames:
                    await send(eio_sid, frame)
            except Exception:  # one recipient's broken connection is not the others' problem
                log.exception("socket.io: could not send %r to %s", event, eio_sid)


class TimedPoll(AsyncSocket):  # type: ignore[misc]
    """An Engine.IO connection whose writer waits for its next packet, and whose WebSocket
    reader for its next frame, under `asyncio.timeout` rather than `asyncio.wait_for`, which on
    Python 3.11 wraps every wait in a Task of its own (engineio's reader even makes one itself):
    a Task per packet sent and per frame received. Otherwise Engine.IO's own `poll` and
    WebSocket handler (engineio 4.x); a connection upgraded from polling keeps engineio's."""

    connected: bool
    upgraded: bool
    read_pause = 0.0  # seconds before the next frame is read (a client told to slow down)

    def read_later(self, seconds: float) -> None:
        """Read this client's next frame only after `seconds`: a client refused for sending
        too fast costs nothing more meanwhile (its frames wait in the socket; TCP holds the
        rest back), and the other connections are served."""
        self.read_pause = max(self.read_pause, min(seconds, MAX_READ_PAUSE))

    async def _websocket_handler(self, ws: Any) -> None:
        if self.connected:  # an upgrade from long-polling: its probe exchange is engineio's
            await super()._websocket_handler(ws)
            return
        self.connected = self.upgraded = True
        server = self.server
        writer = asyncio.ensure_future(self._write_frames(ws))
        idle = server.ping_interval + server.ping_timeout  # no frame this long: the client left
        while True:
            try:
                async with asyncio.timeout(idle):
                    data = await ws.wait()
            except (Exception, asyncio.CancelledError):  # closed, timed out or cancelled
                break
            if data is None or len(data) > server.max_http_buffer_size:
                break  # closed by the client, or a packet too large (engineio's limit)
            try:
                await self.receive(eio_packet.Packet(encoded_packet=data))
            except exceptions.UnknownPacketError:
                pass
            except (exceptions.SocketIsClosedError, asyncio.CancelledError):
                break  # cancelled (the client's connection was lost): cleaned up below
            except Exception:  # as engineio: logged, and the connection goes on
                server.logger.exception("Unknown receive error")
            # One frame per connection per turn of the event loop, as engineio's Task per frame
            # gave: a client whose frames pile up (a flood) must not hold the loop for all of
            # them while the other connections wait (bench/abuse.py); one just told to slow
            # down (`read_later`) is not read again before its pause. A connection with no
            # frame waiting yields in its next wait: no extra turn of the loop for it.
            pause, self.read_pause = self.read_pause, 0.0
            if pause or frames_waiting(ws):  # else the next wait lets the others go anyway
                try:
                    await asyncio.sleep(pause)
                except asyncio.CancelledError:
                    break
        await self.queue.put(None)  # the writer ends
        await writer
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)

    async def _write_frames(self, ws: Any) -> None:
        while True:
            try:
                packets = await self.poll()
            except exceptions.QueueEmpty:
                break
            if not packets:  # the connection is closing
                break
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:
                break
        await ws.close()

    async def poll(self) -> list[Any]:
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                packets = [await self.queue.get()]
            self.queue.task_done()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None
        if packets == [None]:
            return []
        while True:
            try:
                pkt = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        return packets


def frames_waiting(ws: Any) -> bool:
    """Whether frames of this WebSocket are already read from the socket and waiting (aiohttp's
    queue of the connection's messages): then the next wait would not let the loop go. True
    when that cannot be told."""
    queue = getattr(getattr(ws, "_sock", None), "_reader", None)
    buffer = getattr(queue, "_buffer", None)
    return buffer is None or bool(buffer)


def read_later(server: Any, sid: str, namespace: str, seconds: float) -> None:
    """The Socket.IO client `sid`'s next frame is read only after `seconds` (at most
    MAX_READ_PAUSE), when its connection is one of ours (TimedPoll, the websocket transport)."""
    eio_sid = server.manager.eio_sid_from_sid(sid, namespace)
    socket = server.eio.sockets.get(eio_sid) if eio_sid is not None else None
    if isinstance(socket, TimedPoll):
        socket.read_later(seconds)


def timed_poll(socket: Any) -> None:
    """Make a new Engine.IO connection a TimedPoll (called as it connects)."""
    if type(socket) is AsyncSocket:
        socket.__class__ = TimedPoll


def across_processes(manager: Any) -> bool:
    """Whether the manager reaches connections of other processes (SOCKETIO_REDIS): then a
    room's participants here are not all of them."""
    return isinstance(manager, AsyncPubSubManager)


class LocalManager(RoomIndex, DirectEmit):
    """A single process's manager: emits without Tasks, disconnects that leave only their own
    rooms (frontdesk.socketio_rooms)."""

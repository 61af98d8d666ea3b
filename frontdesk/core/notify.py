"""How the core tells the agent console that something changed (implemented by the console)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ConsoleNotifier(Protocol):
    async def queue_changed(self) -> None: ...

    async def agents_changed(self) -> None: ...

    async def case_assigned(self, agent: str, case_id: str) -> None: ...

    async def case_message(self, agent: str, case_id: str, entry: Mapping[str, Any]) -> None: ...

    async def customer_typing(self, agent: str, case_id: str, typing: bool) -> None: ...

    async def case_closed(self, agent: str, case_id: str) -> None: ...


class NoConsole:
    """Used until a console is attached (and by tools that run without one)."""

    async def queue_changed(self) -> None:
        return None

    async def agents_changed(self) -> None:
        return None

    async def case_assigned(self, agent: str, case_id: str) -> None:
        return None

    async def case_message(self, agent: str, case_id: str, entry: Mapping[str, Any]) -> None:
        return None

    async def customer_typing(self, agent: str, case_id: str, typing: bool) -> None:
        return None

    async def case_closed(self, agent: str, case_id: str) -> None:
        return None


class Fanout:
    """Several listeners behind one notifier (the console, the wait watcher, …)."""

    def __init__(self, *listeners: ConsoleNotifier) -> None:
        self.listeners = list(listeners)

    async def queue_changed(self) -> None:
        for listener in self.listeners:
            await listener.queue_changed()

    async def agents_changed(self) -> None:
        for listener in self.listeners:
            await listener.agents_changed()

    async def case_assigned(self, agent: str, case_id: str) -> None:
        for listener in self.listeners:
            await listener.case_assigned(agent, case_id)

    async def case_message(self, agent: str, case_id: str, entry: Mapping[str, Any]) -> None:
        for listener in self.listeners:
            await listener.case_message(agent, case_id, entry)

    async def customer_typing(self, agent: str, case_id: str, typing: bool) -> None:
        for listener in self.listeners:
            await listener.customer_typing(agent, case_id, typing)

    async def case_closed(self, agent: str, case_id: str) -> None:
        for listener in self.listeners:
            await listener.case_closed(agent, case_id)

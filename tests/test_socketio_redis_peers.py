"""While Redis fails over, a publish is said again until the listeners of every process heard
shortly before the failure hear it: their heartbeats cannot get through meanwhile, so the
time they were last heard must not make them count as gone (the chaos test lost an agent's
`case_message` so, once in a few runs)."""

from __future__ import annotations

import time

from frontdesk.socketio_redis import PEER_GONE_AFTER, RECOVERING_FOR, WatchedRedisManager


def test_processes_heard_before_redis_failed_count_until_the_recovery_ends() -> None:
    manager = WatchedRedisManager("redis://127.0.0.1:1/0")
    now = time.monotonic()
    manager.peers = {
        "me": now,  # heard again already
        "other": now - PEER_GONE_AFTER - 2,  # heard just before Redis failed, 3 s into it
        "dead": now - 60,  # gone long before
    }
    assert manager.live_processes() == 1  # no failure seen: only the recent heartbeat counts
    manager.failed_at = now - 3  # the failover began 3 s ago
    manager.recovering_until = manager.failed_at + RECOVERING_FOR
    assert manager.live_processes() == 2  # "other" is subscribing again: wait for it
    manager.recovering_until = now - 0.1  # recovered
    assert manager.live_processes() == 1


def test_a_failure_during_a_recovery_does_not_move_its_start() -> None:
    manager = WatchedRedisManager("redis://127.0.0.1:1/0")
    manager._failing()
    began = manager.failed_at
    manager._failing()
    assert manager.failed_at == began
    assert manager.recovering_until > time.monotonic() + RECOVERING_FOR - 1

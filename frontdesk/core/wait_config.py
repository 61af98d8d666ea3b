"""flows/waits.yml: how frontdesk quotes waits, and when a waiting customer leaves the line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from frontdesk.errors import ConfigError


@dataclass(frozen=True)
class WaitConfig:
    low_quantile: float = 0.25
    high_quantile: float = 0.9
    default_handle_minutes: tuple[float, ...] = (3, 4, 6, 8, 10, 14, 20)
    min_samples: int = 10
    pickup_seconds: float = 20.0
    material_change: float = 0.25
    min_interval_seconds: float = 15.0
    recent_handoffs: int = 50
    min_handoffs: int = 5
    typical_quantile: float = 0.8
    # Abandonment (core/abandon.py): a waiting widget customer whose pages have all been gone
    # this long leaves the line; Telegram and Messenger requests after this many hours.
    abandon_after_seconds: float = 180.0
    platform_abandon_after_hours: float = 24.0
    # A wait whose upper end passes this (or runs past closing time) comes with the offer to
    # leave a message instead of keeping the place.
    offer_message_above_minutes: float = 20.0


def load_wait_config(flows_dir: Path) -> WaitConfig:
    path = flows_dir / "waits.yml"
    if not path.is_file():
        return WaitConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        minutes = data.pop("default_handle_minutes", WaitConfig.default_handle_minutes)
        values = {k: type(getattr(WaitConfig, k))(v) for k, v in data.items()}
        return WaitConfig(default_handle_minutes=tuple(float(m) for m in minutes), **values)
    except (yaml.YAMLError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc

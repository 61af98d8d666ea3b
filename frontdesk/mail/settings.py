"""SMTP_URL, MAIL_FROM, MAIL_REPLY_TO and the retry pauses, validated with clear errors.

    SMTP_URL=smtp://user:pass@mail.example.com:587?starttls=1   STARTTLS required
    SMTP_URL=smtp://relay.internal:25                          STARTTLS when offered (default)
    SMTP_URL=smtp://127.0.0.1:1025?starttls=0                  plain (a local relay)
    SMTP_URL=smtps://user:pass@mail.example.com:465            TLS from the first byte

Query options: starttls=1|0|auto, verify=0 (do not check the server's certificate), timeout=N
seconds (default 30). A user name or password with @ : / ? # % in it is percent-encoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from frontdesk.errors import ConfigError

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
OPTIONS = ("starttls", "verify", "timeout")
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpConfig:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False  # smtps://: TLS from the first byte
    start_tls: bool | None = None  # None: STARTTLS when the server offers it
    validate_certs: bool = True
    timeout: float = 30.0


@dataclass(frozen=True)
class MailIdentity:
    sender: str  # "Shop Support <help@shop.example>"
    address: str  # help@shop.example (the envelope sender)
    reply_to: str = ""

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


def _redacted(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.password is None:
        return raw
    return raw.replace(f":{parts.password}@", ":***@", 1)


def parse_smtp_url(raw: str) -> SmtpConfig:
    """SMTP_URL as a connection config; ConfigError naming SMTP_URL (password hidden)."""
    shown = _redacted(raw)
    parts = urlsplit(raw)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(f"SMTP_URL must look like smtp://host:port or smtps://…, got {shown!r}")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigError(f"SMTP_URL has a bad port: {shown!r}") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = [k for k in query if k not in OPTIONS]
    if unknown:
        raise ConfigError(f"SMTP_URL: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
    options = {k: v[-1].strip().lower() for k, v in query.items()}
    start_tls: bool | None = None
    starttls = options.get("starttls", "auto")
    if starttls in TRUE:
        start_tls = True
    elif starttls in FALSE:
        start_tls = False
    elif starttls != "auto":
        raise ConfigError(f"SMTP_URL: starttls must be 1, 0 or auto, got {starttls!r}")
    if parts.scheme == "smtps" and start_tls:
        raise ConfigError("SMTP_URL: smtps:// is TLS already; starttls=1 is for smtp://")
    verify = options.get("verify", "1")
    if verify not in TRUE | FALSE:
        raise ConfigError(f"SMTP_URL: verify must be 1 or 0, got {verify!r}")
    try:
        timeout = float(options.get("timeout", "30"))
    except ValueError:
        raise ConfigError("SMTP_URL: timeout must be a number of seconds") from None
    if not 1 <= timeout <= 600:
        raise ConfigError("SMTP_URL: timeout must be between 1 and 600 seconds")
    return SmtpConfig(
        hostname=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=parts.scheme == "smtps",
        start_tls=False if parts.scheme == "smtps" else start_tls,
        validate_certs=verify in TRUE,
        timeout=timeout,
    )


def _address(name: str, raw: str) -> tuple[str, str]:
    """("Shop <help@shop.example>", "help@shop.example") from an address with or without a name."""
    display, address = parseaddr(raw)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c in address for c in " <>,;"):
        raise ConfigError(
            f'{name} must be an e-mail address ("Shop <help@shop.example>"), got {raw!r}'
        )
    return formataddr((display, address)), address


def mail_identity(mail_from: str, reply_to: str) -> MailIdentity:
    sender, address = _address("MAIL_FROM", mail_from)
    return MailIdentity(sender, address, _address("MAIL_REPLY_TO", reply_to)[0] if reply_to else "")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0.05 <= value <= 86_400:
        raise ConfigError(f"{name} must be between 0.05 and 86400 seconds, got {value}")
    return value


def mail_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The e-mail settings for frontdesk.config.Settings, validated."""
    smtp_url = env.get("SMTP_URL", "").strip()
    mail_from = env.get("MAIL_FROM", "").strip()
    reply_to = env.get("MAIL_REPLY_TO", "").strip()
    if smtp_url:
        parse_smtp_url(smtp_url)
        if not mail_from:
            raise ConfigError("MAIL_FROM is required with SMTP_URL (the answers' From address)")
    if mail_from or reply_to:
        mail_identity(mail_from or "x@example.com", reply_to)
    first = _seconds(env, "MAIL_RETRY_FIRST", 30.0)
    most = _seconds(env, "MAIL_RETRY_MAX", 1800.0)
    if most < first:
        raise ConfigError(f"MAIL_RETRY_MAX ({most}) must not be shorter than MAIL_RETRY_FIRST")
    return {
        "smtp_url": smtp_url,
        "mail_from": mail_from,
        "mail_reply_to": reply_to,
        "mail_retry_first": first,
        "mail_retry_max": most,
    }

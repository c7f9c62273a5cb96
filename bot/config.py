"""Settings read from the environment and `.env`, every variable prefixed `DVK_`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import DEFAULT_BUSY_TIMEOUT, DEFAULT_POOL_SIZE
from storage.periods import QuietHours

# A real token looks like "123456789:AAH..." (bot id, colon, 35 url-safe characters).
_TOKEN_RE = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MIN_LINK_SECRET = 16


class SettingProblem(ValueError):
    """What is wrong with a setting, as a catalog key and its values: the command line says it
    in the configured language (bot/cli.py)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DVK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    telegram_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///data/dvk.sqlite3"
    timezone: str = "Asia/Ho_Chi_Minh"
    language: str = "vi"
    telegram_api_url: str | None = None
    # Admins from the start, qualified by channel: "zalo:<id>"; a plain number is Telegram's.
    admin_ids: Annotated[list[str], NoDecode] = []
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    # The project's HTTP server (webhook, health), behind a TLS proxy. DVK_WEBHOOK_LISTEN and
    # DVK_WEBHOOK_PORT, their names when only the webhook used them, are still read.
    http_listen: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("DVK_HTTP_LISTEN", "DVK_WEBHOOK_LISTEN")
    )
    http_port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("DVK_HTTP_PORT", "DVK_WEBHOOK_PORT"),
    )
    # `/metrics` answers a request from this machine, or one with `Authorization: Bearer <this>`.
    metrics_token: SecretStr | None = None
    # How long a write waits for another connection's lock (SQLite's busy timeout, PostgreSQL's
    # lock_timeout) before the update is rolled back and the person asked to send it again.
    db_busy_timeout: float = Field(default=DEFAULT_BUSY_TIMEOUT, gt=0, le=600)
    # Connections `dvk run` keeps open to the database, opened as needed (storage/db.py):
    # replicas times this, plus ten each, within the server's max_connections.
    db_pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=500)
    # An unfinished form pauses after this long without an answer; the draft is kept.
    draft_ttl_hours: float = 24.0
    # Reminders: the default local hour, how many days before / after the due date, quiet hours
    # (local, may cross midnight) in which nothing is sent, how often the sweep runs.
    reminder_hour: int = Field(default=8, ge=0, le=23)
    remind_before_days: int = Field(default=3, ge=0, le=28)
    remind_overdue_days: int = Field(default=2, ge=0, le=28)
    quiet_hours: str = "20:00-07:30"
    sweep_interval_seconds: float = Field(default=300, gt=0)
    nudge_after_hours: float = Field(default=24, gt=0)
    # Personal data (docs/du-lieu-ca-nhan.md): how long a refused or unanswered join request's
    # data is kept; the notice people agree to says it.
    retention_days: int = Field(default=90, ge=1, le=3650)
    # Messages per second the outbox sender allows itself; replies to people are paced
    # separately, and the two stay under Telegram's ~30/s.
    send_rate: float = Field(default=15, gt=0, lt=30)
    # The year-end report's Word template (dvk report): None is the one shipped in reports/.
    report_template: Path | None = None
    # How many people's updates are handled at once (each person's one at a time, in order).
    concurrent_updates: int = Field(default=16, ge=1, le=1000)
    # Of those, how many compute their step at once (the core's reads, form and writes; their
    # answers go out beside, outside this bound): Python does one at a time anyway, and fewer
    # steps interleaved finish each sooner.
    concurrent_steps: int = Field(default=4, ge=1, le=1000)
    # Media (docs/zalo.md, "Media and links"): the store's folder, shared by replicas; the
    # largest photo kept; the https address the HTTP server is reached at (without it there are
    # no links); the secret links are signed with; how long a link works.
    media_dir: Path = Path("data/media")
    media_max_mb: float = Field(default=10, gt=0, le=100)
    public_url: str | None = None
    link_secret: SecretStr | None = Field(default=None, validate_default=True)
    link_ttl_hours: float = Field(default=24, gt=0, le=24 * 30)
    # Zalo Bot Platform (docs/zalo.md): the bot's token, the API's address (tests point it at a
    # fake), the bot's link people open, what the outbox sends a second and the plan's quota.
    zalo_token: SecretStr | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_url: str | None = None
    zalo_send_rate: float = Field(default=5, gt=0)
    zalo_monthly_quota: int | None = Field(default=None, gt=0)
    # Webhook mode (docs/zalo.md, "Webhook mode"): with DVK_PUBLIC_URL and this secret set, Zalo
    # posts updates to DVK_PUBLIC_URL/zalo/webhook carrying it; otherwise the bot polls.
    zalo_webhook_secret: SecretStr | None = None
    # Of the quota, what is kept for replies: reminders and broadcasts wait when only this is
    # left (docs/zalo.md, "Quota"). Default a tenth of the quota.
    zalo_reply_reserve: int | None = Field(default=None, ge=0)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)  # ValueError says what is wrong
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SettingProblem("setting-bad-timezone", value=value) from error
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - as a secret token.
        if (
            value is not None
            and value.get_secret_value()
            and not _SECRET_RE.match(value.get_secret_value())
        ):
            raise SettingProblem("setting-bad-webhook-secret")
        return value

    @field_validator("zalo_webhook_secret")
    @classmethod
    def _zalo_secret(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value() if value is not None else ""
        if not secret:
            return None
        # Zalo's setWebhook takes a secret_token of 8-256 characters.
        if not 8 <= len(secret) <= 256 or secret != secret.strip():
            raise SettingProblem("setting-bad-zalo-secret")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise SettingProblem("setting-bad-public-url")
        return value.rstrip("/")

    @field_validator("link_secret")
    @classmethod
    def _link_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Links are signed with it: with a public address and no secret (or a guessable one)
        # anyone could make a link to any file, so the bot refuses to start rather than derive one.
        secret = value.get_secret_value().strip() if value is not None else ""
        if info.data.get("public_url") and len(secret) < MIN_LINK_SECRET:
            raise SettingProblem("setting-link-secret-needed", least=MIN_LINK_SECRET)
        return value if secret else None

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s;]+", value.strip()) if part]
        if isinstance(value, int):
            value = [value]
        if isinstance(value, list | tuple):
            return [_admin_id(part) for part in value]
        return value

    def admins_by_channel(self) -> dict[str, set[str]]:
        """Channel -> the ids DVK_ADMIN_IDS names there; every channel that takes admin ids has
        a key, so a channel with none is told apart from one that takes none."""
        admins: dict[str, set[str]] = {channel: set() for channel in ADMIN_CHANNELS}
        for entry in self.admin_ids:
            channel, _, external_id = entry.partition(":")
            admins[channel].add(external_id)
        return admins

    def token_problem(self) -> str | None:
        """Why the Telegram token cannot be used, or None when it looks real."""
        if self.telegram_token is None or not self.telegram_token.get_secret_value().strip():
            return "missing"
        if not _TOKEN_RE.match(self.telegram_token.get_secret_value().strip()):
            return "placeholder"
        return None

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None

    def http_port_set(self) -> bool:
        """DVK_HTTP_PORT (or DVK_WEBHOOK_PORT) was given: the server runs in polling mode too."""
        return "http_port" in self.model_fields_set

    def media_max_bytes(self) -> int:
        return int(self.media_max_mb * 1024 * 1024)

    def zalo_configured(self) -> bool:
        return self.zalo_token is not None and bool(self.zalo_token.get_secret_value().strip())

    def zalo_webhook(self) -> bool:
        """Zalo posts to the bot (webhook mode) when it can reach it and knows the secret."""
        return self.zalo_configured() and bool(self.public_url and self.zalo_webhook_secret)


# Channels whose people DVK_ADMIN_IDS can name; ids on Zalo are opaque strings.
ADMIN_CHANNELS = ("telegram", "zalo")
_ADMIN_ID_RE = re.compile(r"^(?:(telegram|zalo):([A-Za-z0-9_.-]{1,64})|(\d{1,20}))$")


def _admin_id(part: object) -> str:
    """One entry as "channel:id" ("123" -> "telegram:123"); a ValueError says what is wrong."""
    text = str(part).strip()
    match = _ADMIN_ID_RE.match(text)
    if match is None:
        raise SettingProblem("setting-bad-admin-id", value=text)
    if match.group(3) is not None:
        return f"telegram:{match.group(3)}"
    return f"{match.group(1)}:{match.group(2)}"

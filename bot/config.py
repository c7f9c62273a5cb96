"""Settings read from the environment and `.env`, every variable prefixed `DVK_`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.periods import QuietHours

# A real token looks like "123456789:AAH..." (bot id, colon, 35 url-safe characters).
_TOKEN_RE = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


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
    admin_ids: Annotated[list[int], NoDecode] = []
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
    # How long a write waits for another connection's lock (SQLite's busy timeout, PostgreSQL's
    # lock_timeout) before the update is rolled back and the person asked to send it again.
    db_busy_timeout: float = Field(default=10.0, gt=0, le=600)
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
    # Messages per second the outbox sender allows itself; replies to people are paced
    # separately, and the two stay under Telegram's ~30/s.
    send_rate: float = Field(default=15, gt=0, lt=30)
    # Zalo Bot Platform (docs/zalo.md): the bot's token, the API's address (tests point it at a
    # fake), the bot's link people open, what the outbox sends a second and the plan's quota.
    zalo_token: SecretStr | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_url: str | None = None
    zalo_send_rate: float = Field(default=5, gt=0)
    zalo_monthly_quota: int | None = Field(default=None, gt=0)

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
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Ho_Chi_Minh)") from error
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
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ -")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in re.split(r"[,\s;]+", value.strip()) if part]
        if isinstance(value, int):
            return [value]
        return value

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

    def zalo_configured(self) -> bool:
        return self.zalo_token is not None and bool(self.zalo_token.get_secret_value().strip())

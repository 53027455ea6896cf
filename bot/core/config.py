"""Configuration: config.toml, then POSKO_* environment overrides, then secrets.

Durations are written with a unit (``45s``, ``15m``, ``2h``, ``7d``, ``1h30m``). The bot
token is deliberately not a TOML field: it comes only from ``POSKO_TELEGRAM__TOKEN``, a
token file, systemd's ``$CREDENTIALS_DIRECTORY/telegram_token`` or the secrets directory,
so that it can never be committed with the config.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from datetime import date, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from storage.db import is_postgres, redacted

_DURATION_PART = re.compile(r"(\d+)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_S = 365 * 86400
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{10,}$")
TOKEN_SECRET_NAME = "telegram_token"
PAID_BROADCAST_MAX_PER_S = 1000.0


class ConfigError(Exception):
    """A configuration problem, already phrased for the operator (one line, names the setting)."""


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a duration with a unit, e.g. '45s', '15m', '2h'")
    text = value.strip().lower().replace(" ", "")
    if text in ("0", "off"):
        return timedelta(0)
    pos = 0
    total = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"'{value}' is not a duration; expected e.g. '45s', '15m', '2h', '1h30m'")
    if total > MAX_DURATION_S:
        raise ValueError(f"'{value}' is too long for a duration; at most 365d")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60}m"
    return f"{seconds}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


class TelegramSettings(BaseModel):
    model_config = {"extra": "forbid"}

    token: str | None = Field(default=None, exclude=True, repr=False)
    token_file: Path | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    bot_username: str | None = None
    poll_timeout: Duration = timedelta(seconds=30)
    listen: str = "127.0.0.1"
    port: int = 8443
    url: str | None = None
    secret_token: str | None = Field(default=None, repr=False)
    # The durable inbox (SPEC §11). Off only to measure what it costs (bench/updates.py):
    # without it an update acknowledged but not yet handled is lost in a crash.
    inbox: bool = True


class StorageSettings(BaseModel):
    model_config = {"extra": "forbid"}

    path: Path = Path("posko.db")
    # PostgreSQL instead of the SQLite file at ``path`` (SPEC §11); may hold a password.
    url: str | None = Field(default=None, repr=False)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not is_postgres(value):
            raise ValueError("must start with postgresql:// (or postgres://)")
        if value is not None:
            try:
                _ = urlsplit(value).port  # raises on a port that is not a number
            except ValueError:
                raise ValueError("its port must be a number, as in host:5432") from None
        return value

    @property
    def target(self) -> str:
        """What storage.db.Database.open takes: the URL when set, else the file."""
        return self.url if self.url is not None else str(self.path)

    @property
    def shown(self) -> str:
        """The database as messages name it (never the password)."""
        return redacted(self.url) if self.url is not None else str(self.path)


class WatchSettings(BaseModel):
    model_config = {"extra": "forbid"}

    staff_grace: Duration = timedelta(minutes=15)
    silence_after: Duration = timedelta(minutes=90)
    remind_before: Duration = timedelta(minutes=15)
    escalate_after: Duration = timedelta(minutes=20)
    repeat_every: Duration = timedelta(minutes=30)
    remind_before_open: Duration = timedelta(minutes=30)
    max_sleep: Duration = timedelta(seconds=30)
    # A taken alert whose post has not recovered: remind the taker, then climb one level.
    taken_timeout: Duration = timedelta(minutes=30)

    @field_validator("escalate_after", "repeat_every", "max_sleep", "taken_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s (an alert would repeat without pause)")
        return value


class DeliverySettings(BaseModel):
    model_config = {"extra": "forbid"}

    global_per_s: float = Field(default=30.0, gt=0)
    per_chat_per_s: float = Field(default=1.0, gt=0)
    per_group_per_min: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    request_timeout: Duration = timedelta(seconds=10)
    # Telegram's paid broadcast (SPEC §11): circulars go with allow_paid_broadcast, paced
    # at paid_per_s on their own instead of within global_per_s; 0.1 Star per message.
    paid_broadcast: bool = False
    paid_per_s: float = 1000.0

    @field_validator("paid_per_s")
    @classmethod
    def _paid_rate(cls, value: float) -> float:
        if not 0 < value <= PAID_BROADCAST_MAX_PER_S:
            raise ValueError(
                f"must be more than 0 and at most {PAID_BROADCAST_MAX_PER_S:g}"
                " (Telegram's paid broadcast allows up to 1000 messages a second)"
            )
        return value


class InviteSettings(BaseModel):
    model_config = {"extra": "forbid"}

    expiry: Duration = timedelta(days=7)


DEFAULT_CATEGORIES = [
    "keamanan",
    "logistik",
    "netralitas_asn",
    "apk",
    "politik_uang",
    "dpt",
    "kampanye",
    "bencana",
    "lainnya",
]


DEFAULT_ROUTING: dict[str, list[str]] = {
    "politik_uang": ["bawaslu"],
    "netralitas_asn": ["bawaslu"],
    "keamanan": ["polri", "tni"],
    "logistik": ["kpu"],
    "dpt": ["kpu"],
    "bencana": ["bpbd"],
}


class ReportSettings(BaseModel):
    model_config = {"extra": "forbid"}

    categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    max_photos: int = Field(default=10, ge=0)
    max_text: int = Field(default=2000, ge=50)
    # A report left diterima/ditangani this long: remind the assignee, then one level up.
    follow_up_after: Duration = timedelta(hours=2)
    # Disposisi (SPEC §8): the agencies suggested first when a report of a category is
    # forwarded (agency codes from agencies.csv).
    routing: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ROUTING))

    @field_validator("follow_up_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s (a reminder would repeat without pause)")
        return value


class ScheduleOverride(BaseModel):
    model_config = {"extra": "forbid"}

    date: date
    hours: str
    areas: list[str] | None = None


class ScheduleSettings(BaseModel):
    model_config = {"extra": "forbid"}

    override: list[ScheduleOverride] = Field(default_factory=list)


AreaLevel = Literal["provinsi", "kota", "kecamatan", "kelurahan"]
_CAMAT_AND_KOTA: list[AreaLevel] = ["kecamatan", "kota"]


class PowersSettings(BaseModel):
    """Which supervisors, by the level of the area they oversee, may use an admin command
    within their own subtree (admins always may, over the whole tree)."""

    model_config = {"extra": "forbid"}

    jeda: list[AreaLevel] = Field(default_factory=lambda: list(_CAMAT_AND_KOTA))
    siaran: list[AreaLevel] = Field(default_factory=lambda: list(_CAMAT_AND_KOTA))
    ekspor: list[AreaLevel] = Field(default_factory=lambda: list(_CAMAT_AND_KOTA))

    def levels(self) -> dict[str, list[str]]:
        """Power name → the area levels it is given to."""
        return {"jeda": list(self.jeda), "siaran": list(self.siaran), "ekspor": list(self.ekspor)}


class LogSettings(BaseModel):
    model_config = {"extra": "forbid"}

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class HttpSettings(BaseModel):
    model_config = {"extra": "forbid"}

    port: int | None = None
    listen: str = "127.0.0.1"


class WebSettings(BaseModel):
    """The command room (SPEC §10): pages and ``/api/`` served from the bot process."""

    model_config = {"extra": "forbid"}

    port: int | None = None  # None: the command room is off
    listen: str = "127.0.0.1"
    # The https address the pages are reached at (Mini App button, login and wall links).
    public_url: str | None = None
    # A map tile URL template ("https://tile.example.org/{z}/{x}/{y}.png"); empty: no basemap.
    tiles: str = ""
    tiles_attribution: str = ""
    session_ttl: Duration = timedelta(hours=12)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s):// address, e.g. 'https://posko.example.go.id'")
        return value.rstrip("/")

    @field_validator("tiles")
    @classmethod
    def _tile_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("expected an https:// tile URL template with {z}/{x}/{y}")
        return value


class RecapSettings(BaseModel):
    model_config = {"extra": "forbid"}

    time: dt_time = dt_time(21, 0)  # WIB: the daily recap goes to supervisors at this time


class RosterSettings(BaseModel):
    """Piket (SPEC §9)."""

    model_config = {"extra": "forbid"}

    remind_before: Duration = timedelta(minutes=30)  # personal reminder before a slot
    late_after: Duration = timedelta(minutes=10)  # personal nudge when not checked in
    swap_approval: bool = False  # a supervisor in scope approves every accepted swap
    horizon_days: int = Field(default=14, ge=1, le=62)  # weekday rows expanded this far ahead


class BotSettings(BaseModel):
    model_config = {"extra": "forbid"}

    default_language: Literal["id", "en"] = "id"


_toml_data: ContextVar[dict[str, Any] | None] = ContextVar("posko_toml_data", default=None)


class _TomlDictSource(PydanticBaseSettingsSource):
    """The already-parsed config file, lowest priority (env and secrets override it)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_toml_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_toml_data.get() or {})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="POSKO_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    invites: InviteSettings = Field(default_factory=InviteSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    recap: RecapSettings = Field(default_factory=RecapSettings)
    powers: PowersSettings = Field(default_factory=PowersSettings)
    roster: RosterSettings = Field(default_factory=RosterSettings)
    secrets_dir: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlDictSource(settings_cls))


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "config"
    message = first["msg"].removeprefix("Value error, ")
    return f"invalid setting {where}: {message}"


def load_settings(
    path: Path | None, *, require_token: bool = False, overrides: dict[str, Any] | None = None
) -> Settings:
    """Read and validate the configuration; raise ConfigError with one clear line."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    if "token" in data.get("telegram", {}):
        raise ConfigError(
            "telegram.token must not be in the config file; "
            "set POSKO_TELEGRAM__TOKEN or a secret file (telegram.token_file)"
        )
    reset = _toml_data.set(data)
    try:
        settings = Settings(**(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _toml_data.reset(reset)
    if settings.telegram.token is None:
        settings.telegram.token = _token_from_files(settings)
    if settings.telegram.token is not None:
        settings.telegram.token = settings.telegram.token.strip()
    if require_token:
        check_token(settings.telegram.token)
    _check_webhook(settings)
    _check_overrides(settings)
    return settings


def _token_from_files(settings: Settings) -> str | None:
    candidates: list[Path] = []
    if settings.telegram.token_file is not None:
        if not settings.telegram.token_file.is_file():
            raise ConfigError(f"telegram.token_file not found: {settings.telegram.token_file}")
        candidates.append(settings.telegram.token_file)
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        candidates.append(Path(credentials) / TOKEN_SECRET_NAME)
    if settings.secrets_dir is not None:
        candidates.append(settings.secrets_dir / TOKEN_SECRET_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8").strip()
    return None


def check_token(token: str | None) -> str:
    if not token:
        raise ConfigError(
            "telegram.token is missing: set POSKO_TELEGRAM__TOKEN or telegram.token_file"
        )
    if not TOKEN_PATTERN.match(token):
        # Never echo the value: a malformed token may still be most of a real one.
        raise ConfigError(
            "telegram.token is malformed: expected '<digits>:<letters>' from BotFather"
        )
    return token


def _check_overrides(settings: Settings) -> None:
    from bot.watch.schedule import HoursError, parse_hours

    for index, override in enumerate(settings.schedule.override):
        try:
            parse_hours(override.hours)
        except HoursError as exc:
            raise ConfigError(f"invalid setting schedule.override[{index}].hours: {exc}") from None


def _check_webhook(settings: Settings) -> None:
    telegram = settings.telegram
    if telegram.mode != "webhook":
        return
    url = urlsplit(telegram.url or "")
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    # Telegram only calls https URLs; a self-hosted Bot API server on this host may use http.
    if url.scheme != "https" and not (url.scheme == "http" and loopback):
        raise ConfigError("invalid setting telegram.url: webhook mode needs an https:// URL")
    secret = telegram.secret_token or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
        raise ConfigError(
            "invalid setting telegram.secret_token: webhook mode needs 16-256 characters"
            " of A-Z, a-z, 0-9, _ or -"
        )

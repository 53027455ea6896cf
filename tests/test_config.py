"""Configuration: TOML, environment overrides, token sources, and one clear line per error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.cli import main
from bot.core.config import ConfigError, load_settings, parse_duration

GOOD_TOKEN = "123456789:AAE-good_token_value_x"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POSKO_TELEGRAM__TOKEN", "CREDENTIALS_DIRECTORY", "POSKO_WATCH__SILENCE_AFTER"):
        monkeypatch.delenv(name, raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [("45s", 45), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("7d", 604800), ("off", 0)],
)
def test_durations(text: str, expected: int) -> None:
    assert parse_duration(text) == timedelta(seconds=expected)


@pytest.mark.parametrize(
    "text", ["15", "m", "1x", "-5m", "15 minutes", "", "99999999999999d", "366d"]
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_toml_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "c.toml", '[watch]\nsilence_after = "60m"\nescalate_after = "5m"\n')
    monkeypatch.setenv("POSKO_WATCH__SILENCE_AFTER", "90m")
    monkeypatch.setenv("POSKO_TELEGRAM__TOKEN", GOOD_TOKEN)
    settings = load_settings(config, require_token=True)
    assert settings.watch.silence_after == timedelta(minutes=90)
    assert settings.watch.escalate_after == timedelta(minutes=5)
    assert settings.telegram.token == GOOD_TOKEN


def test_token_from_file_and_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = write(tmp_path / "tok", GOOD_TOKEN + "\n")
    config = write(tmp_path / "c.toml", f'[telegram]\ntoken_file = "{secret}"\n')
    assert load_settings(config, require_token=True).telegram.token == GOOD_TOKEN
    creds = tmp_path / "creds"
    creds.mkdir()
    write(creds / "telegram_token", GOOD_TOKEN)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert load_settings(None, require_token=True).telegram.token == GOOD_TOKEN


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('[watch]\nsilence_after = "90"\n', "watch.silence_after"),
        ("[delivery]\nglobal_per_s = -1\n", "delivery.global_per_s"),
        ('[telegram]\nmode = "carrier-pigeon"\n', "telegram.mode"),
        ('[watch]\nsilense_after = "9m"\n', "watch.silense_after"),
        ('[watch]\nrepeat_every = "0s"\n', "watch.repeat_every"),
        ('[telegram]\ntoken = "123:abc"\n', "telegram.token must not be in the config file"),
        (
            '[[schedule.override]]\ndate = "2026-11-27"\nhours = "25:00-26:00"\n',
            "schedule.override[0].hours",
        ),
        ("[watch\n", "not valid TOML"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, toml: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path / "c.toml", toml))
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_exit_code_2_for_config_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    config = write(tmp_path / "c.toml", f'[storage]\npath = "{tmp_path / "x.db"}"\n')
    assert main(["run", "--config", str(config)]) == 2
    assert "telegram.token is missing" in capsys.readouterr().err
    monkeypatch.setenv("POSKO_TELEGRAM__TOKEN", "not-a-token-SECRETPART")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "telegram.token is malformed" in err
    assert "SECRETPART" not in err


def test_paid_broadcast_is_off_by_default_and_paces_at_most_1000() -> None:
    delivery = load_settings(None).delivery
    assert delivery.paid_broadcast is False
    assert delivery.paid_per_s == 1000
    chosen = load_settings(
        None, overrides={"delivery": {"paid_broadcast": True, "paid_per_s": 250}}
    ).delivery
    assert chosen.paid_broadcast is True and chosen.paid_per_s == 250


@pytest.mark.parametrize("rate", ["0", "-5", "1000.5", "5000", "nan", "inf"])
def test_paid_per_s_out_of_range_is_refused(tmp_path: Path, rate: str) -> None:
    toml = f"[delivery]\npaid_broadcast = true\npaid_per_s = {rate}\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path / "c.toml", toml))
    message = str(caught.value)
    assert message.startswith("invalid setting delivery.paid_per_s:")
    assert "at most 1000" in message and "\n" not in message


def test_paid_broadcast_must_be_a_yes_or_no(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path / "c.toml", '[delivery]\npaid_broadcast = "maybe"\n'))
    assert "delivery.paid_broadcast" in str(caught.value)

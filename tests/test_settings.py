import re
from pathlib import Path

import pytest

from web.settings import DEV_SECRET_FILE, SETTINGS, Settings, SettingsError

README = Path(__file__).parent.parent / "README.md"
SECRET = "s" * 40


def test_defaults_need_only_a_secret():
    settings = Settings.from_env({"ROUNDS_SECRET_KEY": SECRET})
    assert settings.domain == "localhost:8000"
    assert settings.base_url == "https://localhost:8000"
    assert settings.database_url == "sqlite:///./rounds.db"
    assert settings.federation_mode == "open"


def test_secret_is_required_outside_development_mode():
    with pytest.raises(SettingsError, match="^ROUNDS_SECRET_KEY: required"):
        Settings.from_env({})


def test_short_secret_is_refused_by_name():
    with pytest.raises(SettingsError, match="^ROUNDS_SECRET_KEY: too short"):
        Settings.from_env({"ROUNDS_SECRET_KEY": "hunter2"})


def test_development_secret_is_generated_once_and_kept(tmp_path):
    first = Settings.from_env({"ROUNDS_DEV": "true"}, cwd=tmp_path)
    second = Settings.from_env({"ROUNDS_DEV": "1"}, cwd=tmp_path)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / DEV_SECRET_FILE).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROUNDS_HTTPS", "maybe"),
        ("ROUNDS_DOMAIN", "https://mayo.example"),
        ("ROUNDS_DOMAIN", "mayo.example:99999"),
        ("ROUNDS_DATABASE_URL", "mysql://x"),
        ("ROUNDS_FEDERATION_MODE", "closed"),
        ("ROUNDS_REGISTRATIONS", "sometimes"),
        ("ROUNDS_MAX_BODY_BYTES", "-5"),
        ("ROUNDS_MAX_BODY_BYTES", "lots"),
        ("ROUNDS_NETWORK_FILE", "/nonexistent/network.toml"),
        ("ROUNDS_DOMIAN", "typo.example"),
    ],
)
def test_bad_setting_is_named_in_the_error(variable, value):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"ROUNDS_SECRET_KEY": SECRET, variable: value})
    assert str(error.value).startswith(f"{variable}:")


def test_settings_roundtrip_through_environment_variables():
    settings = Settings.from_env({
        "ROUNDS_SECRET_KEY": SECRET, "ROUNDS_DOMAIN": "127.0.0.1:8001", "ROUNDS_HTTPS": "false",
        "ROUNDS_MAX_BODY_BYTES": "2048",
    })
    assert Settings.from_env(settings.as_env()) == settings
    assert settings.base_url == "http://127.0.0.1:8001"


def test_every_setting_is_documented_in_the_readme_table():
    readme = README.read_text(encoding="utf-8")
    table_rows = set(re.findall(r"^\| `(ROUNDS_[A-Z_]+)` \|", readme, flags=re.MULTILINE))
    declared = {setting.env for setting in SETTINGS}
    assert declared - table_rows == set(), "settings missing from the README's table"
    assert table_rows - declared == set(), "README documents settings that do not exist"

"""Where the client commands find the server and the token: flag, environment, config file, default."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlserve.cli_client.config import DEFAULT_URL, ConfigError, Connection, config_path, resolve


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def test_the_config_file_fills_what_flags_and_environment_leave_out(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", 'url = "http://file.test"\ntoken = "dls_file"\n')
    env = {"DLSERVE_CONFIG": str(config)}
    # click has already put DLSERVE_URL/DLSERVE_TOKEN into the flag values when they are set
    assert resolve(None, None, env) == Connection("http://file.test", "dls_file")
    assert resolve("http://flag.test", None, env) == Connection("http://flag.test", "dls_file")
    assert resolve(None, "dls_flag", env) == Connection("http://file.test", "dls_flag")


def test_without_a_config_file_the_url_is_the_local_server_and_there_is_no_token(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert resolve(None, None, env) == Connection(DEFAULT_URL, None)


def test_the_default_file_lives_under_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "xdg" / "dlserve" / "config.toml", 'token = "dls_xdg"\n')
    assert resolve(None, None, {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).token == "dls_xdg"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_path({}) == tmp_path / "home" / ".config" / "dlserve" / "config.toml"


def test_flags_win_and_the_file_is_not_even_read(tmp_path: Path) -> None:
    env = {"DLSERVE_CONFIG": str(write(tmp_path / "c.toml", "not toml at all ["))}
    assert resolve("http://flag.test", "dls_flag", env) == Connection("http://flag.test", "dls_flag")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("url = [", "not valid TOML"),
        ('tokn = "dls_x"\n', "unknown key 'tokn' (the keys are: url, token)"),
        ("token = 42\n", "token must be a string"),
    ],
)
def test_a_bad_config_file_is_an_error_naming_it(tmp_path: Path, text: str, message: str) -> None:
    config = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError, match=r"c\.toml") as error:
        resolve(None, None, {"DLSERVE_CONFIG": str(config)})
    assert message in str(error.value)


def test_a_config_file_named_by_dlserve_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        resolve(None, None, {"DLSERVE_CONFIG": str(tmp_path / "missing.toml")})

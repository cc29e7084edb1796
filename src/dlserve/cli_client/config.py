"""Where the client commands find the server and the token.

Each value is taken from the first place that has it: the flag (``--url``/``--token``), the
environment (``DLSERVE_URL``/``DLSERVE_TOKEN``, which click reads for the flag), the config file,
and for the URL only, the address ``dlserve serve`` binds by default. The config file is
``$DLSERVE_CONFIG`` if set, else ``$XDG_CONFIG_HOME/dlserve/config.toml`` (``~/.config/...``)::

    url = "https://data.example.com"
    token = "dls_..."
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"
CONFIG_ENV = "DLSERVE_CONFIG"
_KEYS = ("url", "token")


class ConfigError(Exception):
    """The config file cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Connection:
    url: str
    token: str | None


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "dlserve" / "config.toml"


def read_config(path: Path, *, required: bool) -> dict[str, str]:
    """The ``url``/``token`` the file sets. A missing file is empty unless it was named explicitly
    (``$DLSERVE_CONFIG``), so a typo there is not silently ignored; so is an unknown key."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such config file (named by ${CONFIG_ENV})") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (the keys are: {', '.join(_KEYS)})")
    values: dict[str, str] = {}
    for key in _KEYS:
        if key in raw:
            if not isinstance(raw[key], str):
                raise ConfigError(f"{path}: {key} must be a string")
            values[key] = raw[key]
    return values


def resolve(url: str | None, token: str | None, environ: Mapping[str, str] | None = None) -> Connection:
    """``url``/``token`` as given by flag or environment, else from the config file, else defaults.
    The file is only read when a value is missing."""
    if url and token:
        return Connection(url, token)
    env = os.environ if environ is None else environ
    config = read_config(config_path(env), required=bool(env.get(CONFIG_ENV)))
    return Connection(url or config.get("url") or DEFAULT_URL, token or config.get("token") or None)

"""Where groupwatch keeps its state and looks for its config file.

Precedence for both: the command-line value, then an environment variable,
then the platform's per-user default (via platformdirs).
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "groupwatch"
CONFIG_FILE_NAME = "groupwatch.toml"
DATA_DIR_ENV = "GROUPWATCH_HOME"
CONFIG_ENV = "GROUPWATCH_CONFIG"


def _given(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def data_dir(cli_value: str | None) -> Path:
    """``--data-dir``, else ``$GROUPWATCH_HOME``, else the user data dir."""
    if _given(cli_value):
        return Path(cli_value).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    if _given(env):
        return Path(env).expanduser()
    return platformdirs.user_data_path(APP_NAME)


def config_path(cli_value: str | None) -> Path:
    """``--config``, else ``$GROUPWATCH_CONFIG``, else ``<user config dir>/groupwatch.toml``."""
    if _given(cli_value):
        return Path(cli_value).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if _given(env):
        return Path(env).expanduser()
    return platformdirs.user_config_path(APP_NAME) / CONFIG_FILE_NAME

"""The connector types a ``[[connector]]`` table may name, and how each is built.

This is the one list of types: the config loader checks ``type = "..."``
against :data:`TYPES`. Classes are imported only when a table of their type is
built, so a Telegram-only setup never imports the Matrix or OneBot code (nor
whatever those import).

Every class offers ``from_settings(name, options, *, environ=None)``, which
checks the table's options and reads its secrets without touching the
network, raising :class:`~connectors.contract.BadOptions` (one line, naming the
key) for anything wrong.
"""
from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any, Mapping

from connectors.contract import BadOptions, Connector

if TYPE_CHECKING:
    from console.engine.settings import ConnectorSettings

# type -> (module, class). The demo is also what runs when there is no [[connector]] table at all.
_CLASSES: dict[str, tuple[str, str]] = {
    "matrix": ("connectors.matrix", "MatrixConnector"),
    "telegram": ("connectors.telegram", "TelegramConnector"),
    "onebot": ("connectors.onebot", "OneBotConnector"),
    "demo": ("connectors.registry", "DemoTable"),
}

TYPES: tuple[str, ...] = tuple(_CLASSES)


def connector_class(ctype: str) -> Any:
    """The class for a connector type, imported now (BadOptions if the type is unknown or cannot load)."""
    try:
        module_name, attr = _CLASSES[ctype]
    except KeyError:
        close = difflib.get_close_matches(ctype, TYPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise BadOptions(f"unknown connector type {ctype!r}; expected one of {', '.join(TYPES)}{hint}") from None
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:  # a broken install, not a user mistake: still one line
        raise BadOptions(f"connector type {ctype!r} cannot be loaded: {type(e).__name__}: {e}") from None


def build(cs: "ConnectorSettings", environ: Mapping[str, str] | None = None) -> Connector:
    """The connector a ``[[connector]]`` table describes; no network I/O.

    Raises BadOptions naming the table and the key for anything wrong in it.
    """
    cls = connector_class(cs.type)
    conn = cls.from_settings(cs.name, dict(cs.options), environ=environ)
    if not isinstance(conn, Connector):  # a programming error in the connector package
        raise TypeError(f"{cls.__name__}.from_settings did not return a Connector")
    return conn


class DemoTable:
    """``type = "demo"`` in a table: the simulated fleet next to real connectors (to try actions safely).

    Its events carry the simulation's own clock, which runs ``speed`` times faster than the wall's.
    """

    OPTIONS = ("groups", "seed", "speed")

    @classmethod
    def from_settings(cls, name: str, options: dict, *, environ: Mapping[str, str] | None = None) -> Connector:
        from connectors.demo import DemoConnector

        label = f"[[connector]] '{name}'"
        for key in options:
            if key not in cls.OPTIONS:
                close = difflib.get_close_matches(key, cls.OPTIONS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(cls.OPTIONS)})"
                raise BadOptions(f"{label}: unknown key {key!r}{hint}")
        groups, seed, speed = options.get("groups", 40), options.get("seed", 7), options.get("speed", 60.0)
        if not isinstance(groups, int) or isinstance(groups, bool) or not 1 <= groups <= 2000:
            raise BadOptions(f"{label}: groups must be an integer from 1 to 2000")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise BadOptions(f"{label}: seed must be an integer")
        if not isinstance(speed, (int, float)) or isinstance(speed, bool) or not 0 < speed <= 100000:
            raise BadOptions(f"{label}: speed must be a number above 0 and at most 100000")
        conn = DemoConnector(groups=groups, seed=seed, speed=float(speed))
        conn.name = name  # the class default is "demo"; the table names this one
        return conn

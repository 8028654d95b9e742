"""What every connector's option parser shares: its label in errors, and unknown keys refused with a hint."""
from __future__ import annotations

import difflib
from typing import Iterable, Mapping

from connectors.contract import BadOptions


def table_label(name: str) -> str:
    return f"[[connector]] '{name}'"


def reject_unknown(label: str, options: Mapping[str, object], keys: Iterable[str]) -> None:
    """BadOptions naming the first key not in ``keys`` (a literal ``token`` is left to read_secret,
    which explains where a token belongs)."""
    known = list(keys)
    for key in options:
        if key not in known and key != "token":
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
            raise BadOptions(f"{label}: unknown key '{key}'{hint}")

"""Every key of the console, read from the bindings themselves: the one source for the footer, the
help (``?``), the command palette (``ctrl+p``), ``:`` commands and the README's key card, so none of
them can go stale."""
from __future__ import annotations

from typing import Iterable

from textual.binding import Binding

from console.widgets.screen_bar import SCREENS

# Spelled out rather than Textual's key display, which shows enter as "⏎": not every SSH terminal font has it.
KEY_NAMES = {"slash": "/", "space": "space", "asterisk": "*", "question_mark": "?", "plus": "+",
             "equals_sign": "=", "minus": "-", "escape": "esc", "enter": "enter", "less_than_sign": "<",
             "greater_than_sign": ">", "exclamation_mark": "!", "colon": ":", "home": "Home", "end": "End"}

# Keys that move the cursor or repeat another: in the help, never in the footer (it has no room).
NOT_IN_FOOTER = frozenset({"escape", "j", "k", "g", "G", "home", "end", "asterisk", "S", "ctrl+c", "plus",
                           "minus", "plus,equals_sign", "colon", "p"})


def key_name(key: str) -> str:
    """How a binding's keys read in the help and the palette ("slash" -> "/")."""
    return ",".join(KEY_NAMES.get(k, k) for k in key.split(","))


def bindings_of(cls) -> list[Binding]:
    """A class's bindings, its own first, then inherited ones it did not override."""
    seen: set[str] = set()
    out: list[Binding] = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("console."):
            continue  # Textual's own (tab focus, ctrl+c copy) are not ours to offer: ctrl+c quits here
        for b in klass.__dict__.get("BINDINGS", ()):
            if isinstance(b, tuple):
                b = Binding(*b)
            if b.key not in seen:
                seen.add(b.key)
                out.append(b)
    return out


def short_label(description: str) -> str:
    """The footer's label: the description up to its first comma ("Clear marks/filter, back")."""
    return description.split(",")[0].split(" (")[0]


def screen_keys(screen_cls) -> list[tuple[str, str]]:
    """(key, description) of a screen's own keys, in the order it declares them."""
    return [(b.key_display or key_name(b.key), b.description) for b in bindings_of(screen_cls) if b.description]


def global_keys(app_cls) -> list[tuple[str, str]]:
    out = [(key_name(k), label) for k, _, label in SCREENS]
    out += [(b.key_display or key_name(b.key), b.description) for b in bindings_of(app_cls)
            if b.description and not b.action.startswith("switch_mode")]
    out += [("ctrl+p", "command palette: every action by name")]
    return out


def footer_keys(screen_cls, app_cls) -> list[tuple[str, str]]:
    """What the footer offers, most important first: the screen's own actions in the order it
    declares them, then the app's. ``?`` (everything else) is added by the footer itself."""
    out: list[tuple[str, str]] = []
    for b in [*bindings_of(screen_cls), *bindings_of(app_cls)]:
        if (b.description and b.key not in NOT_IN_FOOTER and not b.action.startswith("switch_mode")
                and b.key != "question_mark"):
            out.append((b.key_display or key_name(b.key).split(",")[0], short_label(b.description)))
    return out


def help_sections(screen_cls, app_cls) -> list[tuple[str, list[tuple[str, str]]]]:
    title = getattr(screen_cls, "HELP_TITLE", "") or screen_cls.__name__.removesuffix("Screen")
    return [(title, screen_keys(screen_cls)), ("Everywhere", global_keys(app_cls))]


def card(screens: Iterable[type], app_cls) -> str:
    """The README's key reference: one table per screen, then the keys that work everywhere."""
    lines: list[str] = []
    for cls in screens:
        title = getattr(cls, "HELP_TITLE", "") or cls.__name__.removesuffix("Screen")
        lines += [f"**{title}**", "", "| key | does |", "| --- | --- |"]
        lines += [f"| `{k}` | {d} |" for k, d in screen_keys(cls)]
        lines.append("")
    lines += ["**Everywhere**", "", "| key | does |", "| --- | --- |"]
    lines += [f"| `{k}` | {d} |" for k, d in global_keys(app_cls)]
    return "\n".join(lines) + "\n"

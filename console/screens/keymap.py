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


MOVING = frozenset({"j", "k", "g", "G", "home", "end"})


def help_sections(screen_cls, app_cls) -> list[tuple[str, list[tuple[str, str]]]]:
    """The screen's own keys and those that work everywhere first (the first page of the help at
    80x24), then the keys that move the cursor."""
    title = getattr(screen_cls, "HELP_TITLE", "") or screen_cls.__name__.removesuffix("Screen")
    bindings = [b for b in bindings_of(screen_cls) if b.description]
    own = [(b.key_display or key_name(b.key), b.description) for b in bindings if b.key not in MOVING]
    moving = [(b.key_display or key_name(b.key), b.description) for b in bindings if b.key in MOVING]
    sections = [(title, own), ("Everywhere", global_keys(app_cls))]
    if moving:
        sections.append(("Moving", moving))
    return sections


def own_keys(cls) -> list[tuple[str, str]]:
    """The keys a class declares itself (not those it inherits)."""
    out = []
    for b in cls.__dict__.get("BINDINGS", ()):
        b = b if isinstance(b, Binding) else Binding(*b)
        if b.description:
            out.append((b.key_display or key_name(b.key), b.description))
    return out


def card(screens: Iterable[type], every_screen: Iterable[type], app_cls) -> str:
    """The README's key reference card: each screen's own keys, then the keys of every table screen,
    then those that work everywhere. ``python -m console.screens.keymap`` rewrites it in README.md."""
    def cell(keys: list[tuple[str, str]]) -> str:
        return " · ".join(f"`{k.replace('|', '¦')}` {d}" for k, d in keys) or "browse, filter and sort only"

    lines = ["| screen | keys |", "|---|---|"]
    for cls in screens:
        title = getattr(cls, "HELP_TITLE", "") or cls.__name__.removesuffix("Screen")
        lines.append(f"| {title} | {cell(own_keys(cls))} |")
    lines.append(f"| every screen | {cell([k for cls in every_screen for k in own_keys(cls)])} |")
    lines.append(f"| everywhere | {cell(global_keys(app_cls))} |")
    return "\n".join(lines) + "\n"


START, END = "<!-- key card: generated by python -m console.screens.keymap -->", "<!-- end of key card -->"


def console_card() -> str:
    from console.app import GroupWatchApp
    from console.screens.base import TableScreen
    from console.screens.group import GroupScreen
    from console.screens.moving import CursorKeys

    return card([*GroupWatchApp.MODES.values(), GroupScreen], [TableScreen, CursorKeys], GroupWatchApp)


def with_card(readme: str) -> str:
    """README text with its key card replaced by the current one."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{console_card()}{END}{tail}"


if __name__ == "__main__":
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "README.md"
    path.write_text(with_card(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"key card rewritten in {path}")

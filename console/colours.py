"""How the console looks on poor terminals: 16 colours, and none at all (NO_COLOR).

Textual maps the ANSI colours the screens use ("red", "yellow") through its Monokai palette, whose
red is a pink and whose yellow is an orange: brought back down to 16 colours they became magenta and
bright red, so HIGH read magenta and medium red. Here the ANSI colours map to the classic xterm ones,
which come back down as themselves. With NO_COLOR, Textual turns every colour into a grey (HIGH was
grey 237 on 235); here colour is taken away instead and text attributes carry the meaning: severity is
bold/reverse (see screens/cells.py), the cursor row is reversed.
"""
from __future__ import annotations

from rich.terminal_theme import TerminalTheme
from textual.filter import Monochrome, NoColor

XTERM = TerminalTheme(
    (0, 0, 0), (229, 229, 229),
    [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
     (229, 229, 229), (127, 127, 127)],
    [(255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)],
)

NO_COLOR_CLASS = "-no-color"


def apply(app) -> None:
    """Called in the app's __init__."""
    app.ansi_theme_dark = XTERM
    app.ansi_theme_light = XTERM
    if app.no_color:
        app._filters = [NoColor() if isinstance(f, Monochrome) else f for f in app._filters]
        app.add_class(NO_COLOR_CLASS)

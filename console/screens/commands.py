"""The command palette (ctrl+p): every key's action on the current screen, and every screen, by name."""
from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.widgets.screen_bar import SCREENS


class ScreenCommands(Provider):
    def _commands(self) -> list[tuple[str, str, object]]:
        from console.screens.keymap import bindings_of as _bindings, key_name  # one source for both

        app = self.app
        screen = self.screen
        out: list[tuple[str, str, object]] = []
        for key, mode, label in SCREENS:
            out.append((f"Go to {label}", f"key {key}", partial(app.switch_mode, mode)))
        for b in _bindings(type(screen)):
            if b.description:
                out.append((b.description, f"key {key_name(b.key)}", partial(screen.run_action, b.action)))
        for b in _bindings(type(app)):
            if b.description and not b.action.startswith("switch_mode"):
                out.append((b.description, f"key {key_name(b.key)}", partial(app.run_action, b.action)))
        return out

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)

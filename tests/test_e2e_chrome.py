"""The console's chrome in a real terminal (tmux): keys sent in one burst land where typed, esc then a
digit is not alt+digit, the footer shows the important keys whole, messages never cover the footer or
a confirm dialog, severity is told apart with NO_COLOR and on 16 colours. At 80x24 with NO_COLOR and
at 200x50 with xterm-16color."""
from __future__ import annotations

import re
import time

import pytest

from tests.test_e2e import GROUPWATCH, STARTUP, Terminal, needs_tmux, table_title

SGR = re.compile(r"((?:\x1b\[[0-9;]*m)+)")
COMBOS = [(80, 24, "NO_COLOR"), (200, 50, "xterm-16color")]


class SizedTerminal(Terminal):
    def start_sized(self, width: int, height: int, *args: str, env: tuple[str, ...] = ()) -> None:
        self.tmux("new-session", "-d", "-s", "gw", "-x", str(width), "-y", str(height), "--",
                  str(self.wrapper), str(self.dir), *env, str(GROUPWATCH), "--data-dir", str(self.data), *args)
        self.socket_path = self.tmux("display", "-p", "#{socket_path}").strip()


def codes_before(screen: str, word: str) -> set[str]:
    """The SGR parameters in force where ``word`` starts (the run of escapes just before it)."""
    out: set[str] = set()
    for m in re.finditer(r"((?:\x1b\[[0-9;]*m)+)" + re.escape(word), screen):
        for seq in re.findall(r"\x1b\[([0-9;]*)m", m.group(1)):
            out.update(seq.split(";"))
    return out


@pytest.fixture
def sized(tmp_path):
    t = SizedTerminal(tmp_path, tmp_path / "no-such-config.toml")
    yield t
    t.close()


@needs_tmux
@pytest.mark.parametrize("width,height,colours", COMBOS, ids=["80x24-NO_COLOR", "200x50-16colour"])
def test_chrome_in_a_real_terminal(sized, width, height, colours):
    term = sized
    env = ("NO_COLOR=1",) if colours == "NO_COLOR" else ("TERM=xterm-16color",)
    term.start_sized(width, height, "--speed", "600", env=env)
    term.wait("the groups table", lambda s: table_title(s).startswith("Groups (worst first) · 40/40"), STARTUP)

    # keys in one burst land where typed: `3/` opens the filter on the Feed, and the text goes in it
    term.type("3/ab")
    term.keys("Enter")
    s = term.wait("the Feed filtered by ab", lambda s: table_title(s).startswith("Feed") and "filter ab" in table_title(s))
    # esc then a digit in one write (as over SSH): esc clears the filter, 2 opens Alerts (not alt+2)
    term.keys("Escape", "2")
    term.wait("the Alerts screen", lambda s: table_title(s).startswith(("Alerts", "Incidents")))

    # the footer: the important keys whole, ? help last, nothing longer than the terminal
    pieces = ("enter Open", "n Not an ad", "d Delete msg", "M Mute", "a Ack", "z Snooze")

    def footer(s: str) -> str:
        return "\n".join(s.rstrip("\n").split("\n")[-2:])

    s = term.wait("a HIGH alert and the Alerts footer",
                  lambda s: " HIGH " in s and all(p in footer(s) for p in pieces), 60)
    lines = s.rstrip("\n").split("\n")
    assert lines[-1].rstrip().endswith("? help"), lines[-1]
    assert all(len(line) <= width for line in lines)

    # severity without full colour
    coloured = term.screen(colours=True)
    high, med = codes_before(coloured, "HIGH"), codes_before(coloured, "med ")
    assert "7" in high, high  # reversed: seen without colour
    if colours == "NO_COLOR":
        assert not {c for c in high | med if re.fullmatch(r"3[0-7]|9[0-7]|38|48|4[0-7]|10[0-7]", c)}, (high, med)
    else:
        assert "31" in high or "91" in high, high  # red, not magenta
        assert not {"35", "95"} & high
        assert {"33", "93"} & med if med else True, med  # yellow, not red

    # a confirm dialog while alerts keep coming: nothing covers it or the footer
    term.keys("/")
    term.type("kind:^ad$")
    term.keys("Enter")
    term.wait("ad alerts only", lambda s: "filter kind:^ad$" in table_title(s))
    term.keys("b")
    s = term.wait("the blacklist question", "member(s)")
    for _ in range(3):
        s = term.wait("the dialog whole", lambda s: "y confirm" in s and "n/esc cancel" in s)
        lines = s.rstrip("\n").split("\n")
        assert lines[-1].rstrip().endswith("? help"), s  # the footer is still the footer
        time.sleep(0.7)  # alerts keep arriving meanwhile (the demo at 600x)
    term.keys("n")
    term.wait("dialog closed", lambda s: "y confirm" not in s)
    term.keys("q")
    assert term.wait_exit() == 0

"""`groupwatch report` and `groupwatch audit` read at 80 columns: every column at least 3 cells,
no cell cut to nothing, names instead of ids, and a legend for shortened headers."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from console.cli_table import CliColumn, fit_table


def run(*args: str, home: Path, columns: int = 80) -> str:
    exe = shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")
    env = {**os.environ, "GROUPWATCH_HOME": str(home), "GROUPWATCH_CONFIG": str(home / "none.toml"),
           "NO_COLOR": "1", "COLUMNS": str(columns)}
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert "did not close cleanly" not in p.stderr and "Event loop is closed" not in p.stderr, p.stderr
    return p.stdout


def header_and_rows(out: str) -> tuple[list[str], list[str]]:
    lines = out.splitlines()
    return lines, [line for line in lines if line.strip()]


def test_fit_table_keeps_every_column_readable_and_says_what_it_shortened_or_left_out():
    cols = (CliColumn("name", min=8), CliColumn("group", "id", min=8, drop=1),
            *(CliColumn(h, s, "right") for h, s in (("members", "mem"), ("active 7d", "act"), ("exit rate", "exit"))))
    rows = [[Text("x" * 40), Text("demo:g1"), "120", "48.1%", "0.0%"]] * 3
    for width in (80, 50, 40, 32):
        f = fit_table(cols, rows, width, "t")
        assert all(w >= 3 for w in f.widths.values()), (width, f.widths)
        c = Console(width=width, file=open(os.devnull, "w"), record=True)
        c.print(f.table)
        text = c.export_text()
        assert all(cell_len(line) <= width for line in text.splitlines())
        assert "48.1%" in text and "120" in text and "0.0%" in text  # numbers are never cut
    f = fit_table(cols, rows, 32, "t")
    assert "group" not in f.widths and "mem = members" in f.legend and "not shown at this width: group" in f.legend
    assert fit_table(cols, rows, 200, "t").legend == ""


def test_report_and_audit_read_at_80_columns(tmp_path):
    run("blacklist", "add", "demo:u7", "--reason", "ad team", home=tmp_path)
    report = run("report", home=tmp_path)
    lines, _ = header_and_rows(report)
    assert all(cell_len(line) <= 80 for line in lines)
    header = lines[1].split()
    assert header[:2] == ["name", "id"] and len(header) == 9, header  # every number column is there
    for line in lines[2:42]:
        cells = line.split()
        assert "…" not in cells and "" not in cells  # no cell cut to nothing
        assert cells[-1].isdigit() and cells[-2].endswith("%")
    assert "mem = members" in report  # the legend for the short headers
    audit = run("audit", home=tmp_path)
    lines, _ = header_and_rows(audit)
    assert all(cell_len(line) <= 80 for line in lines)
    assert lines[1].split()[:4] == ["at", "actor", "action", "result"] and "details" in lines[1]
    assert "{" not in audit and '"key"' not in audit  # words, not JSON
    assert 'reason "ad team"' in audit.replace("\n", " ").replace("  ", " ") or "reason" in audit
    assert "ban" in audit and "done" in audit
    wide = run("audit", home=tmp_path, columns=200)
    assert "origin" in wide.splitlines()[1]

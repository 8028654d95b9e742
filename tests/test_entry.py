"""The command's entry point names a package clash in one line instead of a traceback."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def exe() -> str:
    return shutil.which("groupwatch") or str(Path(sys.executable).parent / "groupwatch")


@pytest.mark.parametrize("name", ["console", "connectors"])
def test_another_projects_package_of_the_same_name_is_named_not_a_traceback(tmp_path, name):
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("# someone else's package\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    p = subprocess.run([exe(), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"package {name!r}" in lines[0] and "pipx install" in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_the_real_packages_pass_the_check():
    p = subprocess.run([exe(), "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("groupwatch ")

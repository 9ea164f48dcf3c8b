"""Peer toolkits (datatrove, ...) live in their own virtualenvs, never in gristmill's dependencies.

``python_for(name, packages)`` creates ``.bench/venvs/<name>`` once (under a file lock, so two
benchmark scripts started together do not race) and returns its python; benchmark scripts then run the
peer's side of a comparison in that interpreter as a subprocess, in the same run as gristmill's side.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".bench" / "venvs"


def python_for(name: str, packages: list[str]) -> str:
    venv = VENVS / name
    py = venv / "bin" / "python"
    stamp = venv / "installed.txt"
    wanted = "\n".join(packages)
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (py.exists() and stamp.exists() and stamp.read_text() == wanted):
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(py), "-m", "pip", "install", "-q", *packages], check=True)
            stamp.write_text(wanted)
    return str(py)


def machine() -> str:
    """One line naming the machine a result was taken on."""
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"

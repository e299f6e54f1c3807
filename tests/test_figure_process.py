"""The run's figures drawn in forked processes (simulation/figure_process.py): the same PNG
bytes as drawing them in-process, a failing figure fails the write without leaving a
folder, and the figure process dies with a killed run.

Each check runs in a fresh interpreter: the fork is only taken before numba's pool starts,
which in the test process it usually has."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = r"""
import filecmp, json, sys
from pathlib import Path
from simulation.figure_process import FigureProcess
import simulation.plots.run_plots as rp

fp, failing = FigureProcess.start(), FigureProcess.start()
from simulation import api
from simulation.io import write_run
from simulation.scenario.load import load_scenario

sc = load_scenario("scenarios/quickstart.yaml", ["population.size=300", "days=3"])
result = api.run(sc, 3)
tmp = Path(sys.argv[1])
out = {"forked": fp.pid is not None and failing.pid is not None}
write_run(result, tmp / "run", fp.submit)
(tmp / "inproc").mkdir()
rp.save_run_figures(result, tmp / "inproc")
names = sorted(p.name for p in (tmp / "inproc").iterdir())
out["names"] = names
out["same"] = all(filecmp.cmp(tmp / "run" / n, tmp / "inproc" / n, shallow=False)
                  for n in names)
out["marker"] = json.loads((tmp / "run" / ".opmatrix-run.json").read_text())["files"]
# the second child was forked before this figure was added: its grandchildren fail on a
# figure of their own instead, from a daily table without its columns
broken = result.__class__(summary=result.summary, daily=result.daily[["day", "segment"]],
                          ledger=result.ledger,
                          retention=result.retention, provenance=result.provenance)
try:
    write_run(broken, tmp / "failed", failing.submit)
except RuntimeError as exc:
    out["error"] = str(exc)
out["exists"] = (tmp / "failed").exists()
out["leftovers"] = sorted(p.name for p in tmp.iterdir() if p.name.startswith("."))
print(json.dumps(out))
"""

REPO = Path(__file__).resolve().parents[1]


def test_forked_figures_are_the_in_process_ones_and_a_failure_leaves_nothing(
    tmp_path: Path,
) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["forked"]
    assert out["names"] and all(n.endswith(".png") for n in out["names"])
    assert out["same"]  # byte for byte
    assert set(out["names"]) <= set(out["marker"])  # the marker lists the figures
    # a figure that fails in its process fails the write: the error says why, and neither
    # the results folder nor its temporary folder is left
    assert "drawing the figures failed" in out["error"]
    assert not out["exists"] and out["leftovers"] == []


def test_the_figure_process_dies_with_a_killed_run(tmp_path: Path) -> None:
    code = ("import os, signal, sys\n"
            "from simulation.figure_process import FigureProcess\n"
            "fp = FigureProcess.start()\n"
            "print(fp.pid, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")

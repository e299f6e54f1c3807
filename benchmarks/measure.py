"""Measuring one command honestly: wall seconds from process start to exit and its peak RSS,
each in a fresh subprocess (so imports, graph building and writing results all count, and one
configuration's memory never inflates the next one's). Plus the machine description that goes
next to every figure in benchmarks/results.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]

# Runs the command as its own child and reports wall time and the child's peak RSS: getrusage
# (RUSAGE_CHILDREN) of a launcher that has exactly one child is that child's maximum RSS.
_LAUNCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak_kb = usage.ru_maxrss
print(json.dumps({"wall": wall, "peak_mb": peak_kb / 1024, "rc": proc.returncode,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-2000:]}))
"""


@dataclass
class Measurement:
    wall: float
    peak_mb: float
    stdout: str
    #: user + system CPU seconds of the process (all its threads): robust to a shared machine
    cpu: float = 0.0

    @property
    def peak_gb(self) -> float:
        return self.peak_mb / 1024


class CommandFailed(RuntimeError):
    pass


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run ``cmd`` in a fresh process; raise :class:`CommandFailed` with its stderr if it fails."""
    full_env = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *cmd],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        check=True,
    )
    data = json.loads(out.stdout)
    if data["rc"] != 0:
        raise CommandFailed(f"{' '.join(cmd)} exited {data['rc']}: {data['stderr'].strip()}")
    return Measurement(data["wall"], data["peak_mb"], data["stdout"], data.get("cpu", 0.0))


def measure_opmatrix(
    scenario: Path | str, size: int, extra: list[str] | None = None, runs: int = 1
) -> list[Measurement]:
    """Time ``opmatrix run`` (as a user types it, without figures or progress bar) ``runs``
    times on one fresh graph cache: the first run builds its graph (cold), later ones reuse it
    (warm). Outputs and cache live in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="opmatrix-bench-") as tmp:
        env = {"OPMATRIX_CACHE": str(Path(tmp) / "cache")}
        cmd = [
            sys.executable, "-m", "simulation", "run", str(scenario), "--quiet", "--no-plots",
            "--out", str(Path(tmp) / "run"), "--set", f"population.size={size}", *(extra or []),
        ]
        return [measure(cmd, env=env) for _ in range(runs)]


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """Cores, RAM, CPU, Python and package versions, date, commit and load at the start."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()
    except OSError:
        commit = "-"
    load = os.getloadavg()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "-",
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "ram_gb": f"{psutil.virtual_memory().total / 2**30:.1f}",
        "load_avg_1m_at_start": f"{load[0]:.2f}",
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": ", ".join(
            f"{p} {_version(p)}"
            for p in ("mesa", "numpy", "scipy", "networkx", "igraph", "pandas", "pyarrow")
        ),
    }

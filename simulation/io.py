"""Writing a run's outputs into a folder atomically: all files appear at once, or none do."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.result import RunResult


@contextmanager
def atomic_directory(target: Path):
    """Yield a temporary sibling folder; on success it replaces ``target`` in one rename.

    An interrupted write leaves only a hidden ``.tmp-*`` folder (cleaned up on error), never a
    half-written ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a results folder is an ordinary one
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".old-{target.name}-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Strict JSON: a NaN or infinite KPI is written as null, never as a bare NaN."""
    path.write_text(json.dumps(_finite(data), indent=2, allow_nan=False, default=_plain) + "\n")


def _plain(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return _finite(obj.item())
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def write_run(
    result: RunResult,
    out: Path,
    figures: Callable[[RunResult, Path], list[Path]] | None = None,
) -> Path:
    """Write summary.json, daily.parquet, ledger.parquet, retention.parquet and figures."""
    with atomic_directory(out) as tmp:
        write_json(tmp / "summary.json", result.to_json_dict())
        result.daily.to_parquet(tmp / "daily.parquet", index=False)
        result.ledger.to_parquet(tmp / "ledger.parquet", index=False)
        result.retention.to_parquet(tmp / "retention.parquet", index=False)
        if figures is not None:
            figures(result, tmp)
    return Path(out)


def read_daily(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(Path(run_dir) / "daily.parquet")

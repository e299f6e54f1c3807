"""Writing a run's outputs into a folder atomically: all files appear at once, or none do.

A run folder holds a marker file (:data:`MARKER`) with the run's id and the names of the files
the run wrote. ``opmatrix run --out DIR`` replaces ``DIR`` only when that marker proves an
earlier run wrote it and every entry in it is one of that run's own files (or the report written
beside them): a user's folder that merely happens to hold a ``summary.json``, or the working
folder, is never replaced.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.errors import ScenarioError
from simulation.result import RunResult

#: The marker file of a run folder: ``{"run_id": ..., "files": [...]}``.
MARKER = ".opmatrix-run.json"
#: Files other commands add to a run folder (``opmatrix report`` writes report.html there).
_COMPANIONS = {"report.html"}
#: Longest folder name made from a scenario name (file systems allow 255 bytes per name).
MAX_NAME = 80


def safe_name(name: str, fallback: str = "scenario") -> str:
    """A scenario or experiment name made safe as one folder name.

    Path separators, ``..``, control and shell-special characters become ``_``; letters of any
    script (Chinese names) stay; leading dots go (no hidden folders); long names are cut to
    :data:`MAX_NAME` characters (and 200 UTF-8 bytes).
    """
    cleaned = re.sub(r"[^\w.-]+", "_", str(name), flags=re.UNICODE).strip("._-")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)[:MAX_NAME]
    while len(cleaned.encode("utf-8")) > 200:
        cleaned = cleaned[:-1]
    return cleaned or fallback


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The run marker of ``folder`` if it holds a valid one, else None."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if (
        isinstance(data, dict)
        and isinstance(data.get("run_id"), str)
        and isinstance(data.get("files"), list)
        and all(isinstance(f, str) for f in data["files"])
    ):
        return data
    return None


def check_output_folder(target: Path, option: str = "--out") -> None:
    """Refuse (ScenarioError) an output folder a run may not write or replace.

    Allowed: a new folder whose parent can be created and written, or an earlier run's folder
    (valid marker) holding nothing but that run's own files.
    """
    target = Path(target)
    src = str(target)
    if len(target.name.encode("utf-8")) > 255:
        raise ScenarioError.single(
            src[:60] + "…", option, f"folder name is {len(target.name)} characters; the file "
            "system allows at most 255 bytes per name"
        )
    try:
        resolved = target.resolve()
        cwd = Path.cwd().resolve()
    except (OSError, RuntimeError) as exc:
        raise ScenarioError.single(src, option, f"cannot resolve the path: {exc}") from None
    if resolved == cwd or resolved in cwd.parents or resolved == Path(resolved.anchor):
        raise ScenarioError.single(
            src, option, "is the working folder or one above it; a run writes into a folder "
            "of its own, e.g. --out results/my-run"
        )
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise ScenarioError.single(src, option, "exists and is a file, not a folder")
        marker = read_marker(target)
        if marker is None:
            raise ScenarioError.single(
                src, option, "exists and is not an earlier run folder (no run marker "
                f"{MARKER}); choose a new folder: only a previous run's folder is replaced"
            )
        own = set(marker["files"]) | _COMPANIONS | {MARKER}
        foreign = sorted(p.name for p in target.iterdir() if p.name not in own)
        if foreign:
            shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
            raise ScenarioError.single(
                src, option, f"holds files run {marker['run_id']} did not write ({shown}); "
                "move them out or choose a new folder"
            )
    check_writable_parent(target, option)


def check_writable_parent(target: Path, option: str = "--out") -> None:
    """Refuse a path whose nearest existing ancestor is a file or is not writable."""
    target = Path(target)
    src = str(target)
    if any(len(part.encode("utf-8")) > 255 for part in target.parts):
        raise ScenarioError.single(
            src[:60] + "…", option, "a name in the path is over 255 bytes, the file system limit"
        )
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ScenarioError.single(src, option, f"'{parent}' is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ScenarioError.single(src, option, f"no permission to write in '{parent}'")


def output_error(target: Path, exc: OSError, option: str = "--out") -> ScenarioError:
    """An OSError while writing outputs, as the one-line error users see."""
    reason = {
        errno.ENAMETOOLONG: "a file name in the path is too long",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EACCES: "no permission to write there",
        errno.EPERM: "no permission to write there",
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the file system is read-only",
        errno.EISDIR: "is a folder, expected a file",
        errno.EEXIST: "a part of the path is a file, not a folder",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return ScenarioError.single(str(target), option, f"cannot write: {reason}")


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
    figures: Callable[[RunResult, Path], list[Path] | Future] | None = None,
) -> Path:
    """Write summary.json, daily.parquet, ledger.parquet, retention.parquet, figures and the
    run marker; refuses (ScenarioError) a folder that is not an earlier run's own.

    ``figures(result, folder)`` draws into the temporary folder; it may return a future
    (:class:`simulation.figure_process.FigureProcess`: drawn in other processes while the
    tables are written here), which is waited for before the folder is renamed into place."""
    check_output_folder(out)
    try:
        with atomic_directory(out) as tmp:
            drawn = figures(result, tmp) if figures is not None else None
            write_json(tmp / "summary.json", result.to_json_dict())
            result.daily.to_parquet(tmp / "daily.parquet", index=False)
            result.ledger.to_parquet(tmp / "ledger.parquet", index=False)
            result.retention.to_parquet(tmp / "retention.parquet", index=False)
            if isinstance(drawn, Future):
                drawn.result()
            files = sorted(p.name for p in tmp.iterdir())
            marker = {"run_id": uuid.uuid4().hex, "files": files}
            (tmp / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
    except OSError as exc:
        raise output_error(Path(out), exc) from None
    return Path(out)


def read_daily(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(Path(run_dir) / "daily.parquet")

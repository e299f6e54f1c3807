"""A run's figures drawn in forked processes, beside the simulation and the table writing.

Why: ``opmatrix run`` drew its figures after the simulation, in its own process: importing
matplotlib and the plotting modules (≈ 0.5 CPU-s) and drawing the four or five PNGs
(≈ 1.0–1.2 CPU-s) were serial time at the end of every run, whatever its size (measured at
10M customers × 40 days on the 2-core development machine: 1.2 of a 14-CPU-s command).
Here :class:`FigureProcess` forks a child when the command starts, which imports the
plotting modules while the model is built and simulated, then waits. At write time
:meth:`FigureProcess.submit` hands it the finished :class:`~simulation.result.RunResult` and
the temporary run folder; the child forks one grandchild per figure (each draws and saves
one PNG), and the parent writes the tables meanwhile. The parent then waits for the
figures before the folder is renamed into place (:func:`simulation.io.write_run`), so a
results folder is still complete or absent, never half-written. The PNGs are the ones
``save_run_figures`` draws in-process: same functions, same data, same language.

Forking is only done when it is safe (:func:`fork_safe`: Linux, no other thread, numba's
pool not started: the child never runs a kernel); otherwise, or when the child is gone,
the figures are drawn in this process as before. A child (and its grandchildren) dies with
its parent (Linux's parent-death signal), so a ``kill -9`` of the run leaves none behind.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
import traceback
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from simulation.result import RunResult


def fork_safe() -> bool:
    """Whether forking this process now cannot hang the child: Linux, this thread alone, and
    numba's thread pool not started (a child of a process that ran an OpenMP region hangs in
    one of its own; this child runs none, but a lock held by another thread would stay held)."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return False
    try:
        from numba.np.ufunc import parallel as numba_parallel
    except ImportError:  # pragma: no cover - numba is a dependency
        return True
    return not getattr(numba_parallel, "_is_initialized", True)


def _die_with_parent(parent: int) -> None:
    """Be killed with the parent (``prctl(PR_SET_PDEATHSIG, SIGKILL)``)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _send(fd: int, message: Any) -> None:
    data = pickle.dumps(message)
    with os.fdopen(fd, "wb", closefd=True) as fh:
        fh.write(len(data).to_bytes(8, "little") + data)


def _receive(fd: int) -> Any:
    """One message from ``fd`` (closed after); EOFError if the writer died first."""
    with os.fdopen(fd, "rb", closefd=True) as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise EOFError("the figure process ended without an answer")
        data = fh.read(int.from_bytes(head, "little"))
    return pickle.loads(data)


def _draw_one(name: str, result: RunResult, folder: Path) -> str | None:
    """Draw and save figure ``name``; its file name, or None when the data cannot show it."""
    from simulation.plots.run_plots import RUN_FIGURES, FigureUnavailable
    from simulation.plots.style import save

    try:
        fig = RUN_FIGURES[name](result)
    except FigureUnavailable:
        return None
    save(fig, folder / f"{name}.png")
    return f"{name}.png"


def _warm_up() -> None:  # pragma: no cover - forked
    """Draw one throw-away figure with text, ticks and a legend, so that matplotlib's lazy
    set-up (font lookup and cache, text layout, the constrained layout engine) is done once
    here, while the model runs, and inherited by every figure's process instead of being
    paid by each of them (measured: +1 CPU-s over five figures without it)."""
    import io

    from simulation.plots.style import new_figure, save

    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1], label="warm-up")
    ax.set_title("warm-up")
    ax.legend()
    save(fig, io.BytesIO())


def _child(job_fd: int, answer_fd: int, parent: int) -> None:  # pragma: no cover - forked
    """The figure process: import the plotting modules, wait for a job, draw each figure in
    a grandchild of its own, answer with the file names (or the first error)."""
    _die_with_parent(parent)
    try:
        import simulation.plots.run_plots as run_plots  # the import the parent no longer pays

        _warm_up()
    except BaseException:
        run_plots = None
    try:
        job = _receive(job_fd)
    except EOFError:  # the parent finished without figures (or died)
        os._exit(0)
    try:
        if run_plots is None:
            import simulation.plots.run_plots as run_plots  # raises the import error again
        result, folder = job
        me = os.getpid()
        drawers = []
        for name in run_plots.RUN_FIGURES:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                try:
                    _die_with_parent(me)
                    message: Any = ("ok", _draw_one(name, result, Path(folder)))
                except BaseException:
                    message = ("error", traceback.format_exc())
                _send(w, message)
                os._exit(0)
            os.close(w)
            drawers.append((pid, r))
        files: list[str] = []
        error = None
        for pid, r in drawers:
            try:
                status, value = _receive(r)
            except EOFError:
                status, value = "error", "a figure process died"
            os.waitpid(pid, 0)
            if status == "error":
                error = error or value
            elif value is not None:
                files.append(value)
        answer: Any = ("error", error) if error else ("ok", files)
    except BaseException:
        answer = ("error", traceback.format_exc())
    _send(answer_fd, answer)
    os._exit(0)


class FigureProcess:
    """A forked process that draws a run's figures (see the module docstring).

    Start it early (:meth:`start`, before numba's pool starts); :meth:`submit` returns a
    future of the saved paths, :meth:`close` ends an unused child. Not forked (``pid`` None)
    when :func:`fork_safe` says no: :meth:`submit` then draws in this process."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self._job_fd: int | None = None
        self._answer_fd: int | None = None

    @classmethod
    def start(cls) -> FigureProcess:
        self = cls()
        if not fork_safe():
            return self
        job_r, job_w = os.pipe()
        ans_r, ans_w = os.pipe()
        parent = os.getpid()
        gc.freeze()  # the child's collections skip the inherited heap (no copy-on-write storm)
        try:
            pid = os.fork()
        finally:
            gc.unfreeze()
        if pid == 0:  # pragma: no cover - the child
            os.close(job_w)
            os.close(ans_r)
            _child(job_r, ans_w, parent)
        os.close(job_r)
        os.close(ans_w)
        self.pid, self._job_fd, self._answer_fd = pid, job_w, ans_r
        return self

    def submit(self, result: RunResult, folder: Path) -> Future:
        """Draw every figure of ``result`` into ``folder``: a future of the saved paths."""
        future: Future = Future()
        if self.pid is None or self._job_fd is None or self._answer_fd is None:
            from simulation.plots.run_plots import save_run_figures

            future.set_result(save_run_figures(result, folder))
            return future
        # the tables alone (the ledger built now if it was not yet), not the model behind them
        tables = RunResult(summary=result.summary, daily=result.daily, ledger=result.ledger,
                           retention=result.retention, provenance=result.provenance)
        job_fd, answer_fd, pid = self._job_fd, self._answer_fd, self.pid
        self._job_fd = self._answer_fd = self.pid = None
        _send(job_fd, (tables, str(folder)))

        def wait() -> None:
            try:
                status, value = _receive(answer_fd)
            except BaseException as exc:  # the child died: say so, draw nothing half-way
                future.set_exception(RuntimeError(f"the figure process failed: {exc}"))
                return
            finally:
                os.waitpid(pid, 0)
            if status == "ok":
                future.set_result([Path(folder) / f for f in value])
            else:
                future.set_exception(RuntimeError(f"drawing the figures failed:\n{value}"))

        threading.Thread(target=wait, name="opmatrix-figures", daemon=True).start()
        return future

    def close(self) -> None:
        """End the child without figures (e.g. the run failed)."""
        if self._job_fd is not None:
            os.close(self._job_fd)  # the child sees EOF and exits
            self._job_fd = None
        if self._answer_fd is not None:
            os.close(self._answer_fd)
            self._answer_fd = None
        if self.pid is not None:
            # reaped by a thread: the child may still be importing (~0.5 s), and a failed run
            # should not wait for it
            threading.Thread(target=_reap, args=(self.pid,), name="opmatrix-figures-reap",
                             daemon=True).start()
            self.pid = None


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # already reaped
        os.waitpid(pid, 0)

"""Optuna's journal file storage without an fsync per write (used by optimize and calibrate).

Why: Optuna's :class:`JournalFileBackend` calls ``os.fsync`` on every append, and a study
appends about a dozen times per trial (create, one per parameter, user attributes, tell). On
the shared 2-core machine those fsyncs were ~36 of the ~51 ms the optimiser spent per candidate
(issue 13's budget is 50 ms; measured with benchmarks/bench_optimize.py, overhead part).

What it keeps: every append is still one locked ``write`` of whole lines (Optuna's own lock and
line format, so Optuna reads the file as usual), and the data is in the operating system's page
cache when ``write`` returns — a process killed with ``kill -9`` loses nothing it wrote, which is
what the resume guarantee needs (tests/test_decide_optimize.py kills the process and resumes).
What it gives up: a power cut or kernel crash could lose the last batch's lines; :meth:`sync`
(called once per batch) bounds that to one batch, whose runs are in the run store anyway and
would be re-asked identically (the samplers are re-seeded from the trial count).

Asking a batch is all or nothing on disk (:meth:`BatchSyncedJournalBackend.deferred`): its
trials' lines are held in memory while the batch is asked and appended in one ``write`` when
the batch is complete. Why: a kill inside the ask loop used to leave some of the batch's trials
on disk (or one trial with only some of its parameters); the resumed run then asked the rest of
the batch from a fresh sampler (other random numbers, other trial numbers — and CMA-ES seeds
each proposal with its trial number), so its later proposals differed from an uninterrupted
run's. With the batch held back, a kill leaves either none of the batch (it is asked again from
the same seed, the same history and the same trial numbers: the same proposals) or all of it
(its runs are evaluated — reused from the run store — and told).

A torn last line (a write cut by a kill, which Optuna would later read as a corrupt journal once
more lines follow it) is cut off when the file is opened.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file


class BatchSyncedJournalBackend(JournalFileBackend):
    """A :class:`JournalFileBackend` whose appends skip ``fsync``; :meth:`sync` flushes to disk,
    and :meth:`deferred` holds a batch's appends in memory until the batch is complete."""

    def __init__(self, file_path: str) -> None:
        super().__init__(file_path)
        with get_lock_file(self._lock):  # a writer holds it for each append: no line is cut live
            _cut_torn_line(Path(file_path))
        #: logs appended inside :meth:`deferred`, not yet in the file
        self._pending: list[dict[str, Any]] | None = None
        #: number of logs in the file when :meth:`deferred` began
        self._in_file = 0

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if self._pending is not None:
            self._pending.extend(logs)
            return
        self._write(logs)

    def _write(self, logs: list[dict[str, Any]]) -> None:
        with get_lock_file(self._lock):
            text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
            with open(self._file_path, "ab") as f:
                f.write(text.encode("utf-8"))

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        """The file's logs from ``log_number_from`` on, then those held back (so the storage
        sees its own deferred writes, as it must to number the trials it creates)."""
        if self._pending is None:
            yield from super().read_logs(log_number_from)
            return
        if log_number_from < self._in_file:
            yield from super().read_logs(log_number_from)
        yield from self._pending[max(0, log_number_from - self._in_file):]

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold every append inside the block in memory and write them in one append when the
        block completes; an exception (or a kill) leaves the file as it was before the block.

        Nothing else may write the journal meanwhile (one process owns an optimisation's or a
        calibration's folder)."""
        for _ in super().read_logs(max(self._log_number_offset)):  # find the file's end
            pass
        self._in_file = max(self._log_number_offset)
        self._pending = []
        try:
            yield
            pending = self._pending
        finally:
            self._pending = None
        if pending:
            self._write(pending)
            # the storage has read these already: record where each line ends, so the next
            # read starts at the file's end instead of re-scanning the file
            at = self._log_number_offset[self._in_file]
            for i, log in enumerate(pending):
                at += len(json.dumps(log, separators=(",", ":")).encode("utf-8")) + 1
                self._log_number_offset[self._in_file + i + 1] = at

    def sync(self) -> None:
        """Force the journal to disk (once per batch of trials, not once per write)."""
        fd = os.open(self._file_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _cut_torn_line(path: Path) -> None:
    """Cut a last line without its newline (a write a kill cut short): Optuna skips it while it
    is last, but reads the journal as corrupt once another line is appended after it."""
    if not path.is_file():
        return
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        chunk = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - chunk)
            f.seek(start)
            cut = f.read(end - start).rfind(b"\n")
            if cut >= 0:
                f.truncate(start + cut + 1)
                return
            end = start
        f.truncate(0)


def journal_storage(path: Path | str) -> tuple[JournalStorage, BatchSyncedJournalBackend]:
    """Optuna storage on the journal file ``path`` and its backend (for :meth:`sync`)."""
    backend = BatchSyncedJournalBackend(str(Path(path).resolve()))
    return JournalStorage(backend), backend

"""The results store of one experiment: one Parquet file + one JSON record per run, DuckDB on top.

Layout under ``results/<experiment>/``::

    manifest.json            the expansion: every spec's labels, the sweep design, the baseline
    runs/<run_id>.parquet    the run's daily × segment table (``simulation.result.DAILY_COLUMNS``)
    runs/<run_id>.json       its spec, resolved scenario, status, error, KPIs and timing

Each file is written to a hidden temporary name and renamed into place (``os.replace``), the
Parquet file first and the JSON record last: a run counts as stored only once its record exists,
so a process killed at any moment leaves either a complete run or none (a stray temp file,
removed on the next open). Re-running skips stored runs; failed runs are skipped too unless
retried.

Integrity: a record carries the size and SHA-256 of its Parquet file and a SHA-256 of its own
content (``integrity``). A file truncated, emptied, overwritten or swapped for another table, or
a record edited by hand, fails the check when the store is read: such a run is *never used*; it
is listed (by run id, with the reason) in :meth:`ResultStore.check`, left out of every frame
with a count the commands print, and recomputed by the next ``opmatrix sweep``.

Contract for plots and reports (column names are stable):

- :meth:`ResultStore.runs_frame` → one row per run of the experiment that has a record:
  ``run_id, experiment, variant, replicate, seed, sample_id, status ('done'|'failed'), error``,
  one ``param:<dotted.path>`` column per swept parameter, the KPI columns ``conversion_rate,
  retention_30d, retention_90d, retention_180d, cost_per_acquisition, ltv, roi, spend,
  acquisitions`` (then other scalar KPIs and ``seconds``). ``frame.attrs["sweep"]`` holds the
  sweep design (sampler, SALib problem) and ``frame.attrs["baseline"]`` the baseline variant.
- :meth:`ResultStore.daily_frame` → per-run daily totals over segments: ``run_id, variant,
  replicate, day, customers, converted_cumulative, active, churned_cumulative,
  spend_cumulative`` (plus ``sample_id``).
- :meth:`ResultStore.query` runs SQL over the views ``runs`` (with ``cpa`` as a short alias of
  ``cost_per_acquisition``), ``daily`` and ``daily_segments`` (the raw Parquet files).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from simulation.runner.experiment import KPI_COLUMNS
from simulation.runner.specs import RunSpec, code_version
from simulation.runner.worker import RunOutcome

if TYPE_CHECKING:
    import duckdb

    from simulation.runner.experiment import Experiment

LABEL_COLUMNS = ("run_id", "experiment", "variant", "replicate", "seed", "sample_id")
DAILY_TOTAL_COLUMNS = (
    "customers",
    "converted_cumulative",
    "active",
    "churned_cumulative",
    "spend_cumulative",
)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via ``write(tmp)`` to a hidden sibling, then rename over ``path`` in one step."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers from an earlier, interrupted call
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_json(data: Any) -> Callable[[Path], None]:
    text = json.dumps(data, indent=1, default=_json_default) + "\n"
    return lambda p: p.write_text(text, encoding="utf-8")


def file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex) of a file, read in blocks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of a record's content without its ``integrity`` field (canonical JSON)."""
    body = {k: v for k, v in record.items() if k != "integrity"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: Why a stored run is not used, by run id (see :meth:`ResultStore.check`).
LeftOut = dict[str, str]


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


@dataclass(frozen=True)
class EncodedRun:
    """One run's files as bytes, ready to write: its Parquet table (None when it has none)
    and its JSON record, whose ``table`` field already names the table's size and SHA-256."""

    run_id: str
    table: bytes | None
    record: str


def encode_run(spec: RunSpec, outcome: RunOutcome) -> EncodedRun:
    """Everything :meth:`ResultStore.write` puts on disk for one run, as bytes.

    Why a function of its own: a sweep's workers call it (``execute_batch(..., encode=True)``),
    so the Parquet encoding, the JSON record and both checksums — ~10 ms of CPU a run, most of
    the sweep process's own CPU before (benchmarks/bench_sweep.py's CPU split) — run in
    parallel beside the simulations instead of one after another in the parent, which is left
    with writing bytes. The bytes are those writing the table to a file gives (same pyarrow
    call, into a buffer), so stored runs are identical either way.
    """
    has_daily = outcome.status == "done" and outcome.daily is not None
    table_bytes: bytes | None = None
    table_digest: dict[str, Any] | None = None
    if has_daily:
        assert outcome.daily is not None
        table_bytes = _parquet_bytes(outcome.daily.assign(run_id=spec.run_id))
        table_digest = {
            "size": len(table_bytes), "sha256": hashlib.sha256(table_bytes).hexdigest()
        }
    record = {
        **spec.labels(),
        "status": outcome.status,
        "error": outcome.error,
        "seconds": round(outcome.seconds, 4),
        "code_version": code_version(),
        "has_daily": has_daily,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kpis": outcome.kpis,
        "details": outcome.details,
        "scenario": spec.scenario.model_dump(mode="json") if spec.scenario else None,
        "inputs": spec.inputs,
        "table": table_digest,
    }
    # Round-trip through JSON first so the digest is over exactly what a reader sees.
    record = json.loads(json.dumps(record, default=_json_default))
    record["integrity"] = record_digest(record)
    text = json.dumps(record, indent=1, default=_json_default) + "\n"
    return EncodedRun(spec.run_id, table_bytes, text)


class ResultStore:
    """Runs of one experiment on disk (see the module docstring for layout and columns)."""

    def __init__(self, root: Path | str, experiment: Experiment | None = None) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.experiment = experiment
        self._specs: list[RunSpec] | None = None
        # load() results keyed by the files' (mtime, size): each file is hashed once per change.
        self._checked: dict[str, tuple[Any, tuple[dict[str, Any] | None, str | None]]] = {}

    @classmethod
    def for_experiment(
        cls, experiment: Experiment, results_root: Path | str = "results"
    ) -> ResultStore:
        """The store of ``experiment`` under ``results_root/<experiment name>/``."""
        return cls(Path(results_root) / experiment.name, experiment)

    @classmethod
    def open_target(
        cls,
        target: Path | str,
        results_root: Path | str = "results",
        not_a_store: str = "not an experiment results folder (no manifest.json)",
    ) -> ResultStore:
        """The store named by an experiment YAML (under ``results_root``), or a results folder."""
        from simulation.errors import ScenarioError
        from simulation.runner.experiment import load_experiment

        target = Path(target)
        if target.is_dir():
            if not (target / "manifest.json").is_file():
                raise ScenarioError.single(str(target), "", not_a_store)
            return cls(target)
        return cls.for_experiment(load_experiment(target), results_root)

    # ------------------------------------------------------------------ writing

    def open(self) -> None:
        """Create the folders and remove temporary files a killed writer left behind."""
        from simulation.errors import ScenarioError

        for folder in (self.root, self.runs_dir):
            if folder.exists() and not folder.is_dir():
                raise ScenarioError.single(
                    str(folder), "", "is a file, expected the results folder of the experiment; "
                    "move it away or choose another --results"
                )
        from simulation.io import check_writable_parent

        check_writable_parent(self.runs_dir, "--results")
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenarioError.single(
                str(self.runs_dir), "", f"cannot create the results folder: {exc.strerror}"
            ) from None
        for stray in self.runs_dir.glob(".*.tmp"):
            # ".<name>.<pid>.tmp": leave the files of a writer that is still running (two sweeps
            # of one experiment at once), remove those of a killed one.
            pid = stray.name.rsplit(".", 2)[-2]
            if pid.isdigit() and _alive(int(pid)):
                continue
            with contextlib.suppress(FileNotFoundError):
                stray.unlink()

    def write_manifest(self, specs: list[RunSpec]) -> None:
        exp = self.experiment
        manifest = {
            "experiment": specs[0].experiment if specs else (exp.name if exp else ""),
            "model": exp.model if exp else "opmatrix",
            "baseline": exp.baseline if exp else None,
            "outcomes": exp.outcomes if exp else list(KPI_COLUMNS),
            "sweep": _sweep_info(exp) if exp else None,
            "specs": [s.labels() for s in specs],
        }
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / "manifest.json", _write_json(manifest))

    def write(self, spec: RunSpec, outcome: RunOutcome) -> None:
        """Store one finished (or failed) run: Parquet table first, JSON record last.

        A sweep's outcomes come encoded by the worker (:func:`encode_run`), so this process
        only writes their bytes; an outcome without them is encoded here."""
        encoded = outcome.encoded if outcome.encoded is not None else encode_run(spec, outcome)
        if encoded.run_id != spec.run_id:
            raise ValueError(f"outcome of run {encoded.run_id} stored as {spec.run_id}")
        self.write_encoded(encoded)

    def write_encoded(self, encoded: EncodedRun) -> None:
        """Write an encoded run's files, each atomically, the table before the record."""
        if encoded.table is not None:
            table = encoded.table
            atomic_write(self.parquet_path(encoded.run_id), lambda p: p.write_bytes(table))
        text = encoded.record
        atomic_write(
            self.record_path(encoded.run_id), lambda p: p.write_text(text, encoding="utf-8")
        )

    # ------------------------------------------------------------------ reading

    def record_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.json"

    def parquet_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.parquet"

    def load(self, run_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """(record, None) for a stored run that passes the integrity check; (None, reason)
        for one that fails it; (None, None) for a run with no record at all."""
        key = (_stat_key(self.record_path(run_id)), _stat_key(self.parquet_path(run_id)))
        cached = self._checked.get(run_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        result = self._load(run_id)
        self._checked[run_id] = (key, result)
        return result

    def _load(self, run_id: str) -> tuple[dict[str, Any] | None, str | None]:
        path = self.record_path(run_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, None
        except IsADirectoryError:
            return None, "record is a folder, not a file"
        except UnicodeDecodeError:
            return None, "record is not UTF-8 text"
        except OSError as exc:
            return None, f"record unreadable ({exc.strerror})"
        try:
            rec = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return None, "record is not valid JSON (truncated or overwritten)"
        if not isinstance(rec, dict):
            return None, f"record is a JSON {type(rec).__name__}, not an object"
        if "integrity" not in rec:
            return None, "record has no integrity checksum (written by hand or an old version)"
        if rec.get("integrity") != record_digest(rec):
            return None, "record checksum mismatch (edited after it was written)"
        if rec.get("status") not in ("done", "failed"):
            return None, f"record has an unknown status {rec.get('status')!r}"
        kpis = rec.get("kpis")
        if kpis is not None and not isinstance(kpis, dict):
            return None, "record kpis is not a mapping"
        for name, value in (kpis or {}).items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                return None, f"KPI {name} is not a number ({value!r})"
        if rec["status"] == "done" and rec.get("has_daily"):
            table = rec.get("table") or {}
            try:
                size, sha = file_digest(self.parquet_path(run_id))
            except FileNotFoundError:
                return None, "table (.parquet) missing"
            except OSError as exc:
                return None, f"table (.parquet) unreadable ({exc.strerror})"
            if size != table.get("size"):
                return None, f"table size {size} B, record says {table.get('size')} B (truncated?)"
            if sha != table.get("sha256"):
                return None, "table checksum mismatch (overwritten or replaced)"
        return rec, None

    def record(self, run_id: str) -> dict[str, Any] | None:
        """The run's record if it is stored and passes the integrity check, else None."""
        return self.load(run_id)[0]

    def check(self, run_ids: Iterable[str] | None = None) -> LeftOut:
        """Stored runs that fail the integrity check: ``run_id → reason``."""
        if run_ids is None:
            run_ids = self._stored_ids()
        out: LeftOut = {}
        for run_id in run_ids:
            _, problem = self.load(run_id)
            if problem:
                out[run_id] = problem
        return out

    def _stored_ids(self) -> list[str]:
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.stem for p in self.runs_dir.glob("*.json") if not p.name.startswith("."))

    def status(self, run_ids: Iterable[str] | None = None) -> dict[str, str]:
        """``run_id → 'done' | 'failed'`` for stored runs that pass the integrity check."""
        if run_ids is None:
            run_ids = self._stored_ids()
        out: dict[str, str] = {}
        for run_id in run_ids:
            rec = self.record(run_id)
            if rec is not None:
                out[run_id] = rec["status"]
        return out

    def specs(self) -> list[RunSpec]:
        """The experiment's specs (expanded from it, or read from the manifest)."""
        if self._specs is None:
            if self.experiment is not None:
                from simulation.runner.specs import expand

                self._specs = expand(self.experiment)
            else:
                self._specs = [
                    RunSpec(**{k: s[k] for k in (*LABEL_COLUMNS, "params", "model")})
                    for s in self.manifest().get("specs", [])
                ]
        return self._specs

    def manifest(self) -> dict[str, Any]:
        """The stored manifest; {} when there is none, ScenarioError when it is damaged."""
        from simulation.errors import ScenarioError

        path = self.root / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            data = None
        if not _manifest_ok(data):
            if self.experiment is not None:
                return {}  # rewritten by the next sweep from the experiment file
            raise ScenarioError.single(
                str(path), "", "damaged manifest (not the JSON an experiment store writes); "
                "rerun `opmatrix sweep <experiment.yaml>` to rewrite it"
            )
        return data

    def sweep_info(self) -> dict[str, Any] | None:
        if self.experiment is not None:
            return _sweep_info(self.experiment)
        return self.manifest().get("sweep")

    def baseline(self) -> str | None:
        if self.experiment is not None:
            return self.experiment.baseline
        return self.manifest().get("baseline")

    def runs_frame(self) -> pd.DataFrame:
        """One row per stored run of this experiment (labels, ``param:`` columns, KPIs).

        Runs that fail the integrity check are left out; ``frame.attrs["left_out"]`` maps their
        run ids to the reason, so every command can say what it did not use.
        """
        specs = self.specs()
        records: dict[str, dict[str, Any] | None] = {}
        left_out: LeftOut = {}
        for rid in dict.fromkeys(s.run_id for s in specs):
            records[rid], problem = self.load(rid)
            if problem:
                left_out[rid] = problem
        param_names = list(dict.fromkeys(k for s in specs for k in s.params))
        rows: list[dict[str, Any]] = []
        for spec in specs:
            rec = records.get(spec.run_id)
            if rec is None:
                continue
            row: dict[str, Any] = {
                "run_id": spec.run_id,
                "experiment": spec.experiment,
                "variant": spec.variant,
                "replicate": spec.replicate,
                "seed": spec.seed,
                "sample_id": spec.sample_id,
                "status": rec["status"],
                "error": rec.get("error"),
            }
            for name in param_names:
                row[f"param:{name}"] = spec.params.get(name)
            row.update(rec.get("kpis") or {})
            row["seconds"] = rec.get("seconds")
            rows.append(row)
        columns = [
            *LABEL_COLUMNS,
            "status",
            "error",
            *(f"param:{n}" for n in param_names),
            *KPI_COLUMNS,
        ]
        frame = pd.DataFrame(rows)
        for col in columns:
            if col not in frame.columns:
                frame[col] = pd.Series(dtype="float64" if col in KPI_COLUMNS else "object")
        rest = [c for c in frame.columns if c not in columns]
        frame = frame[columns + rest]
        for col in (*KPI_COLUMNS, *(c for c in rest if c != "seconds")):
            if col in frame.columns and col not in ("error",):
                frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        frame.attrs["sweep"] = self.sweep_info()
        frame.attrs["baseline"] = self.baseline()
        frame.attrs["left_out"] = left_out
        frame.attrs["expected"] = len(dict.fromkeys(s.run_id for s in specs))
        return frame

    def daily_frame(self) -> pd.DataFrame:
        """Per-run daily totals over segments, labelled by variant and replicate."""
        runs = self.runs_frame()
        done = runs[runs["status"] == "done"]
        columns = ["run_id", "variant", "replicate", "sample_id", "day", *DAILY_TOTAL_COLUMNS]
        files = [
            str(self.parquet_path(r)) for r in dict.fromkeys(done["run_id"])
            if self.parquet_path(r).exists()
        ]
        if not files:
            return pd.DataFrame(columns=columns)
        import duckdb

        sums = ", ".join(f"sum({c})::DOUBLE AS {c}" for c in DAILY_TOTAL_COLUMNS)
        totals = duckdb.sql(
            f"SELECT run_id, day, {sums} FROM read_parquet($files) GROUP BY run_id, day",
            params={"files": files},
        ).df()
        labels = done[["run_id", "variant", "replicate", "sample_id"]]
        out = labels.merge(totals, on="run_id", how="inner")
        out = out.sort_values(["variant", "sample_id", "replicate", "day"], kind="stable")
        return out[columns].reset_index(drop=True)

    # ------------------------------------------------------------------ SQL

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with the views ``runs``, ``daily``, ``daily_segments``."""
        import duckdb

        con = duckdb.connect()
        runs = self.runs_frame()
        con.register("runs_frame", runs)
        con.execute('CREATE VIEW runs AS SELECT *, "cost_per_acquisition" AS cpa FROM runs_frame')
        con.register("daily_frame", self.daily_frame())
        con.execute("CREATE VIEW daily AS SELECT * FROM daily_frame")
        files = [
            str(self.parquet_path(r))
            for r in dict.fromkeys(runs.loc[runs["status"] == "done", "run_id"])
            if self.parquet_path(r).exists()
        ]
        if files:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW daily_segments AS SELECT * FROM read_parquet([{listing}])")
        else:
            con.execute("CREATE VIEW daily_segments AS SELECT NULL::VARCHAR AS run_id LIMIT 0")
        return con

    def query(self, sql: str) -> pd.DataFrame:
        con = self.connect()
        try:
            return con.execute(sql).df()
        finally:
            con.close()

    def query_limited(
        self, sql: str, limit: int = 1000, timeout: float = 30.0
    ) -> tuple[pd.DataFrame, int]:
        """(first ``limit`` rows, total row count) of ``sql``, stopped after ``timeout`` s.

        The limit is pushed into DuckDB, so a query of 10⁸ rows never reaches memory; a query
        that runs past the time limit (a recursive CTE without an end) raises TimeoutError.
        """
        import threading

        import duckdb

        con = self.connect()
        timer = threading.Timer(timeout, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            rel = con.sql(sql)
            if rel is None:  # a statement without a result (SET, CREATE VIEW …)
                return pd.DataFrame(), 0
            frame = rel.limit(limit + 1).df()
            total = len(frame)
            if total > limit:
                rows = rel.aggregate("count(*)").fetchall()
                total = int(rows[0][0]) if rows else total
                frame = frame.iloc[:limit]
            return frame, total
        except duckdb.InterruptException:
            raise TimeoutError(f"query stopped after {timeout} s") from None
        finally:
            timer.cancel()
            con.close()


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _manifest_ok(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("specs", []), list):
        return False
    keys = (*LABEL_COLUMNS, "params", "model")
    return all(isinstance(s, dict) and all(k in s for k in keys) for s in data.get("specs", []))


def left_out_note(left_out: LeftOut, limit: int = 3) -> str | None:
    """One line saying how many stored runs were not used and why (None if all were used)."""
    if not left_out:
        return None
    by_reason: dict[str, list[str]] = {}
    for run_id, reason in left_out.items():
        by_reason.setdefault(reason, []).append(run_id)
    parts = []
    for reason, ids in by_reason.items():
        shown = ", ".join(ids[:limit]) + (f" +{len(ids) - limit}" if len(ids) > limit else "")
        parts.append(f"{len(ids)} × {reason} [{shown}]")
    return (
        f"left out {len(left_out)} stored run(s) that fail the integrity check: "
        + "; ".join(parts)
        + " — `opmatrix sweep` recomputes them"
    )


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as a Parquet file's bytes (what ``pq.write_table`` would write to a file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


def _sweep_info(exp: Experiment) -> dict[str, Any] | None:
    if exp.sweep is None:
        return None
    from simulation.runner.samplers import salib_problem, sample_points

    info: dict[str, Any] = {
        "sampler": exp.sweep.sampler,
        "samples": exp.sweep.samples,
        "seed": exp.sweep.seed,
        "morris_levels": exp.sweep.morris_levels,
        "parameters": list(exp.sweep.parameters),
    }
    if exp.sweep.sampler != "grid":
        info["problem"] = salib_problem(exp.sweep)
    # The design's size, so analysis can tell a half-finished sweep from a complete one.
    info["points"] = len(sample_points(exp.sweep))
    return info

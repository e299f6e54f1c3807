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
import json
import os
from collections.abc import Callable, Iterable
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


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


class ResultStore:
    """Runs of one experiment on disk (see the module docstring for layout and columns)."""

    def __init__(self, root: Path | str, experiment: Experiment | None = None) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.experiment = experiment
        self._specs: list[RunSpec] | None = None

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
        self.runs_dir.mkdir(parents=True, exist_ok=True)
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
        """Store one finished (or failed) run: Parquet table first, JSON record last."""
        has_daily = outcome.status == "done" and outcome.daily is not None
        if has_daily:
            assert outcome.daily is not None
            table = outcome.daily.assign(run_id=spec.run_id)
            atomic_write(self.parquet_path(spec.run_id), _parquet_writer(table))
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
        }
        atomic_write(self.record_path(spec.run_id), _write_json(record))

    # ------------------------------------------------------------------ reading

    def record_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.json"

    def parquet_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.parquet"

    def record(self, run_id: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.record_path(run_id).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def status(self, run_ids: Iterable[str] | None = None) -> dict[str, str]:
        """``run_id → 'done' | 'failed'`` for stored runs (among ``run_ids`` if given)."""
        if run_ids is None:
            run_ids = [p.stem for p in self.runs_dir.glob("*.json")]
        out: dict[str, str] = {}
        for run_id in run_ids:
            rec = self.record(run_id)
            if rec is None:
                continue
            if rec["status"] == "done" and rec.get("has_daily") and not self.parquet_path(
                run_id
            ).exists():
                continue  # a record without its table is not a finished run
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
        try:
            return json.loads((self.root / "manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def sweep_info(self) -> dict[str, Any] | None:
        if self.experiment is not None:
            return _sweep_info(self.experiment)
        return self.manifest().get("sweep")

    def baseline(self) -> str | None:
        if self.experiment is not None:
            return self.experiment.baseline
        return self.manifest().get("baseline")

    def runs_frame(self) -> pd.DataFrame:
        """One row per stored run of this experiment (labels, ``param:`` columns, KPIs)."""
        specs = self.specs()
        records = {rid: self.record(rid) for rid in dict.fromkeys(s.run_id for s in specs)}
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


def _parquet_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    return lambda p: pq.write_table(table, p)


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

"""Issue 15: a run replaces only a folder it can prove it wrote; names and output paths are made
safe or refused with a clear error (exit 2), never a traceback or a deleted user file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from simulation.io import MARKER, safe_name
from tests.conftest import run_cli, small_scenario_dict


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    sc = small_scenario_dict(days=5)
    sc["population"]["size"] = 200
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


def _run(tiny: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("run", str(tiny), "-q", "--no-plots", *extra)


def test_user_folder_with_a_summary_json_is_never_replaced(tiny: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "data").mkdir(parents=True)
    (mine / "summary.json").write_text("{}")
    (mine / "thesis.docx").write_text("years of work")
    code, _, err = _run(tiny, "--out", str(mine))
    assert code == 2 and "no run marker" in err
    assert (mine / "thesis.docx").read_text() == "years of work" and (mine / "data").is_dir()


def test_working_folder_is_never_replaced(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / MARKER).write_text(json.dumps({"run_id": "x", "files": []}))
    code, _, err = _run(tiny, "--out", ".")
    assert code == 2 and "working folder" in err and tiny.exists()


def test_rerun_replaces_only_its_own_folder(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _run(tiny, "--out", str(out))[0] == 0
    marker = json.loads((out / MARKER).read_text())
    assert "summary.json" in marker["files"] and len(marker["run_id"]) == 32
    assert _run(tiny, "--out", str(out))[0] == 0  # an earlier run's own folder: replaced
    assert json.loads((out / MARKER).read_text())["run_id"] != marker["run_id"]
    (out / "notes.txt").write_text("mine")  # a file the run did not write: refuse, keep it
    code, _, err = _run(tiny, "--out", str(out))
    assert code == 2 and "notes.txt" in err and (out / "notes.txt").read_text() == "mine"


def test_scenario_names_become_safe_folder_names(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    assert safe_name("../../x") == "x" and safe_name("..") == "scenario"
    assert safe_name("a/b\\c d") == "a_b_c_d" and safe_name("招商银行 信用卡") == "招商银行_信用卡"
    assert len(safe_name("n" * 300)) == 80
    data = yaml.safe_load(tiny.read_text())
    data["name"] = "../../escape"
    tiny.write_text(yaml.safe_dump(data))
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert _run(tiny)[0] == 0
    assert [p.name[:6] for p in (work / "results" / "runs").iterdir()] == ["escape"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "tiny.yaml"]
    data["name"] = "n" * 300  # a 300-character name runs, in a shortened folder
    tiny.write_text(yaml.safe_dump(data))
    assert _run(tiny)[0] == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_is_a_clear_error(tiny: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = _run(tiny, "--out", str(locked / "run"))
        assert code == 2 and "permission" in err
    finally:
        locked.chmod(0o700)


def test_bad_output_paths_are_clear_errors(tiny: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = {
        str(a_file / "run"): "is a file",
        str(a_file): "is a file",
        str(tmp_path / ("x" * 300)): "255",
    }
    for out, words in cases.items():
        code, _out_text, err = _run(tiny, "--out", out)
        assert code == 2 and words in err and len(err.splitlines()) <= 3, (out, err)
    run_dir = tmp_path / "r"
    assert _run(tiny, "--out", str(run_dir))[0] == 0
    (tmp_path / "folder").mkdir()
    bad = ((tmp_path / "folder", "is a folder"), (a_file / "x.html", "not a folder"))
    for target, words in bad:
        code, _, err = run_cli("report", str(run_dir), "--no-network", "--out", str(target))
        assert code == 2 and words in err, err

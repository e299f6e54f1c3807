"""The bench's 16-thread extrapolation is Amdahl's law on the two measured points, nothing more."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from run_all import amdahl_lines


def test_perfect_scaling_divides_by_the_thread_count():
    (line,) = amdahl_lines({(1000, 1): 32.0, (1000, 2): 16.0}, cores=2)
    assert "parallel share 100%" in line and "≈ 2 s on 16 threads" in line


def test_no_gain_means_no_parallel_share_and_a_slowdown_is_not_negative():
    (same,) = amdahl_lines({(1000, 1): 10.0, (1000, 2): 10.0}, cores=2)
    (slower,) = amdahl_lines({(1000, 1): 10.0, (1000, 2): 12.0}, cores=2)
    for line in (same, slower):
        assert "parallel share 0%" in line and "≈ 10 s on 16 threads" in line


def test_the_issue_14_point_and_one_core_machines():
    (line,) = amdahl_lines({(10**7, 1): 53.9, (10**7, 2): 45.9}, cores=2)
    assert "1.17×" in line and "30%" in line and "≈ 39 s" in line and "extrapolated" in line
    assert amdahl_lines({(1000, 1): 5.0}, cores=1) == []

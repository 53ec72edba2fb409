"""`orchestrator compare`: matched points, deltas, and exit codes a CI pipeline can trust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.analysis.compare import compare
from orchestrator.errors import ConfigError
from orchestrator.results.run_folder import read_rows


def _row(conc: int, seqs: int, thr: float, ttft: float) -> dict:
    return {"variant": "v0", "workload": "w0", "repeat": 0, "server.max_num_seqs": seqs,
            "concurrency": conc, "output_throughput": thr, "mean_ttft_ms": ttft,
            "mean_tpot_ms": 5.0}


def _run(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    run = tmp_path / name
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(rows))
    return run


def test_points_match_by_settings_not_by_variant_name() -> None:
    a = [_row(1, 4, 100.0, 50.0), _row(4, 4, 300.0, 80.0), _row(4, 8, 320.0, 70.0)]
    b = [{**_row(4, 8, 290.0, 71.0), "variant": "v3"}, _row(4, 4, 303.0, 96.0),
         _row(16, 4, 400.0, 200.0)]
    result = compare(a, b)
    assert (result.matched, result.only_a, result.only_b) == (2, 1, 1)
    worse = {(c.point, c.metric): round(c.worse, 3) for c in result.changes}
    assert worse[("max_num_seqs=8 c4", "output_throughput")] == pytest.approx(0.094, abs=1e-3)
    assert worse[("max_num_seqs=4 c4", "mean_ttft_ms")] == pytest.approx(0.2)
    assert worse[("max_num_seqs=4 c4", "output_throughput")] == pytest.approx(-0.01)
    assert {(c.point, c.metric) for c in result.regressions(0.05)} == {
        ("max_num_seqs=8 c4", "output_throughput"), ("max_num_seqs=4 c4", "mean_ttft_ms")}
    assert result.regressions(0.25) == []


def test_compare_cli_exit_codes(cli, tmp_path: Path) -> None:
    a = _run(tmp_path, "a", [_row(1, 4, 100.0, 50.0), _row(4, 4, 300.0, 80.0)])
    same = _run(tmp_path, "same", [_row(1, 4, 101.0, 49.0), _row(4, 4, 299.0, 81.0)])
    slower = _run(tmp_path, "slower", [_row(1, 4, 80.0, 50.0), _row(4, 4, 300.0, 80.0)])
    other = _run(tmp_path, "other", [_row(2, 16, 80.0, 50.0)])
    ok = cli("compare", str(a), str(same), "--max-regression", "5%")
    assert ok.exit_code == 0, ok.stderr
    assert "max_num_seqs=4 c4" in ok.stdout and "no significant change beyond 5%" in ok.stdout
    bad = cli("compare", str(a), str(slower), "--max-regression", "5%")
    assert bad.exit_code == 1
    assert bad.stderr.splitlines() == [
        "error: 1 significant regression(s) beyond 5%: max_num_seqs=4 c1 output_throughput"
        " 100 -> 80 (-20.0%, untested)"]
    none = cli("compare", str(a), str(other))
    assert none.exit_code == 2
    assert "share no point" in none.stderr
    metric = cli("compare", str(a), str(same), "--metric", "bananas_per_s")
    assert metric.exit_code == 2 and "bananas_per_s" in metric.stderr
    threshold = cli("compare", str(a), str(same), "--max-regression", "lots")
    assert threshold.exit_code == 2 and "--max-regression" in threshold.stderr


def test_a_folder_without_a_summary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no readable summary\.json"):
        read_rows(tmp_path)

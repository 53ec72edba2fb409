"""A sweep point's vLLM result as a summary record, and the summary files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.results.bench_records import ResultFormatError, parse_result, write_rows
from orchestrator.results.run_folder import RunFolder


def test_parse_result_and_summary(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "run")
    raw = folder.raw / "results_8_x.json"
    raw.write_text(json.dumps({"completed": 20, "failed": 0, "max_concurrency": 8,
                               "num_prompts": 20, "request_throughput": 3.5,
                               "mean_ttft_ms": 12.0}))
    record = parse_result(raw)
    assert record["concurrency"] == 8 and record["request_throughput"] == 3.5
    assert record["p99_itl_ms"] is None
    write_rows(folder, [{"variant": "v0", **record, "file": "raw/v0/results_8_x.json"}],
               ["variant"])
    assert json.loads((folder.path / "summary.json").read_text())[0]["variant"] == "v0"
    csv_lines = (folder.path / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("variant,concurrency,") and csv_lines[0].endswith(",file")
    assert csv_lines[1].startswith("v0,8,20,20,0,") and csv_lines[1].endswith(",raw/v0/results_8_x.json")
    garbage = folder.raw / "results_1_y.json"
    garbage.write_text("{not json")
    with pytest.raises(ResultFormatError, match="not readable JSON"):
        parse_result(garbage)

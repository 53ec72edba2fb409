"""Engine-free pieces of the runtimes: safe extraction, readiness waiting, result parsing."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from orchestrator.errors import EngineError
from orchestrator.readiness import NotAlive, TimedOut, wait_until_ready
from orchestrator.results.bench_records import ResultFormatError, parse_result, write_summary
from orchestrator.results.run_folder import RunFolder
from orchestrator.runtime.archive import safe_extract


def _tar(*members: tuple[str, bytes | None, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, link, data in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link.decode()
            else:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if link is None else None)
    return buffer.getvalue()


def test_extracts_regular_files_flat_and_only_new_ones(tmp_path: Path) -> None:
    data = _tar(("run/results_1.json", None, b"{}"), ("run/results_4.json", None, b"[]"))
    assert sorted(p.name for p in safe_extract([data], tmp_path)) == ["results_1.json", "results_4.json"]
    assert (tmp_path / "results_4.json").read_bytes() == b"[]"
    assert safe_extract([data], tmp_path) == []  # already home: not copied again


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (("/etc/passwd", None, b"x"), "it leaves the target folder"),
        (("run/../../evil", None, b"x"), "it leaves the target folder"),
        (("run/link", b"/etc/shadow", b""), "links and devices are not copied"),
    ],
)
def test_refuses_unsafe_members(tmp_path: Path, member, why) -> None:
    with pytest.raises(EngineError, match=why):
        safe_extract([_tar(member)], tmp_path / "dest")
    assert not any((tmp_path / "dest").iterdir())


def test_wait_stops_at_once_when_the_component_dies() -> None:
    started = time.monotonic()
    with pytest.raises(NotAlive, match="exited with code 2"):
        wait_until_ready([lambda: "not yet"], alive=lambda: "exited with code 2", timeout_s=60)
    assert time.monotonic() - started < 1


def test_wait_times_out_saying_what_it_waited_for() -> None:
    with pytest.raises(TimedOut, match="GET /health: 503"):
        wait_until_ready([lambda: "GET /health: 503"], alive=lambda: None, timeout_s=0.2,
                         interval_s=0.05)


def test_wait_checks_in_order_until_all_pass() -> None:
    answers = iter(["no health", None, "no model", None, None])
    seen: list[str] = []
    took = wait_until_ready([lambda: next(answers), lambda: next(answers)], alive=lambda: None,
                            timeout_s=5, on_tick=lambda w, _: seen.append(w), interval_s=0.01)
    assert seen == ["no health", "no model"] and took < 5


def test_parse_result_and_summary(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "run")
    raw = folder.raw / "results_8_x.json"
    raw.write_text(json.dumps({"completed": 20, "failed": 0, "max_concurrency": 8,
                               "num_prompts": 20, "request_throughput": 3.5,
                               "mean_ttft_ms": 12.0}))
    record = parse_result(raw)
    assert record["concurrency"] == 8 and record["request_throughput"] == 3.5
    assert record["file"] == "raw/results_8_x.json" and record["p99_itl_ms"] is None
    write_summary(folder, [record])
    assert json.loads((folder.path / "summary.json").read_text()) == [record]
    assert (folder.path / "summary.csv").read_text().splitlines()[1].startswith("8,20,20,0,")
    garbage = folder.raw / "results_1_y.json"
    garbage.write_text("{not json")
    with pytest.raises(ResultFormatError, match="not readable JSON"):
        parse_result(garbage)

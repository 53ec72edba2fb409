"""The sweep matrix: expansion, per-combination validation, lanes, records, the estimate, the
bench process's command line (checked against bench_points.py's own parser) and resume."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.config import load_config
from orchestrator.config.sweep_matrix import Matrix
from orchestrator.errors import ConfigError
from orchestrator.plan import build_bench_plan
from orchestrator.resources import data_dir
from orchestrator.results.overhead import beyond_vllm
from orchestrator.results.resume import resume_config
from orchestrator.results.run_folder import RunFolder
from orchestrator.results.sweep_records import SweepRecords, check_resumable, mark_server_lost
from orchestrator.stacks.bench_process import POINT_DONE, bench_argv, workload_flags
from orchestrator.stacks.sweep_plan import prepare

BASE = {
    "name": "sw",
    "server": {"model": "/models/tiny-qwen2", "gpus": 0, "max_model_len": 512, "hf_token": None},
    "workload": {"input_len": 64, "output_len": 32, "concurrency": [1, 2]},
}


def _load(tmp_path: Path, sweep: dict | None = None, sets: tuple[str, ...] = (),
          sweeps: tuple[str, ...] = (), **extra: object):
    data = {**BASE, **extra, "results_dir": str(tmp_path / "results")}
    if sweep is not None:
        data["sweep"] = sweep
    path = tmp_path / "orchestrator.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path, sets, environ={}, sweeps=sweeps)


def _matrix(loaded) -> Matrix:
    assert loaded.matrix is not None
    return loaded.matrix


def test_a_plain_config_is_one_variant(tmp_path: Path) -> None:
    matrix = _matrix(_load(tmp_path))
    assert [v.name for v in matrix.variants] == ["v0"]
    assert [p.key for p in matrix.all_points] == ["v0/w0-c1-r0.json", "v0/w0-c2-r0.json"]


def test_dict_of_lists_is_a_product_and_points_run_variant_by_variant(tmp_path: Path) -> None:
    matrix = _matrix(_load(tmp_path, {
        "server": {"max_num_seqs": [4, 8], "flags.enable-prefix-caching": [True, False]},
        "workload": {"output_len": [16, 32], "request_rate": ["inf", 8]},
        "repeats": 2,
    }))
    assert [v.settings for v in matrix.variants] == [
        {"max_num_seqs": 4, "flags.enable-prefix-caching": True},
        {"max_num_seqs": 4, "flags.enable-prefix-caching": False},
        {"max_num_seqs": 8, "flags.enable-prefix-caching": True},
        {"max_num_seqs": 8, "flags.enable-prefix-caching": False},
    ]
    first, second = matrix.variants[0].spec.server, matrix.variants[1].spec.server
    assert first is not None and second is not None
    assert first.max_num_seqs == 4 and first.extra_args == ["--enable-prefix-caching"]
    assert second.extra_args == []  # false leaves the flag out
    works = matrix.workloads[0]
    assert [(w.workload.output_len, w.workload.request_rate) for w in works] == [
        (16, "inf"), (16, 8), (32, "inf"), (32, 8)]
    points = matrix.points(matrix.variants[0])
    assert len(points) == 4 * 2 * 2 and len(matrix.all_points) == 4 * len(points)
    assert [p.name for p in points[:4]] == ["w0-c1-r0.json", "w0-c1-r1.json", "w0-c2-r0.json",
                                            "w0-c2-r1.json"]
    assert matrix.swept == {"server": ["flags.enable-prefix-caching", "max_num_seqs"],
                            "workload": ["output_len", "request_rate"]}


def test_explicit_variants_and_link(tmp_path: Path) -> None:
    matrix = _matrix(_load(tmp_path, {
        "server": [{"max_num_seqs": 2}, {"max_num_seqs": 8, "max_num_batched_tokens": 4096}],
        "link": {"workload.concurrency": "server.max_num_seqs"},
    }))
    assert [[p.concurrency for p in matrix.points(v)] for v in matrix.variants] == [[2], [8]]
    assert matrix.variants[1].spec.server.max_num_batched_tokens == 4096  # type: ignore[union-attr]


def test_sweep_option_sets_the_values_as_yaml_and_replaces_the_file(tmp_path: Path) -> None:
    loaded = _load(tmp_path, {"server": {"max_num_seqs": [4, 8]}},
                   sweeps=("server.max_num_seqs=2,16,32", "workload.request_rate=inf, 4.5"))
    matrix = _matrix(loaded)
    assert [v.settings["max_num_seqs"] for v in matrix.variants] == [2, 16, 32]
    assert [w.workload.request_rate for w in matrix.workloads[0]] == ["inf", 4.5]


@pytest.mark.parametrize("assignment", ["max_num_seqs=4", "server.max_num_seqs", "client.x=1,2",
                                        "server.max_num_seqs="])
def test_sweep_option_refuses_what_it_cannot_read(tmp_path: Path, assignment: str) -> None:
    with pytest.raises(ConfigError, match=r"write --sweep server.FIELD=V1,V2"):
        _load(tmp_path, sweeps=(assignment,))


def test_every_combination_is_validated_and_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, {"server": {"max_model_len": [128, 512]},
                         "workload": {"output_len": [32, 100]}})
    assert refused.value.lines == (
        f"{tmp_path / 'orchestrator.yaml'}:20:5: sweep server[0] (max_model_len=128) x"
        " workload[1] (output_len=100): workload.input_len + workload.output_len = 64 + 100 ="
        " 164 exceeds server.max_model_len = 128; lower workload.output_len to 64 or raise"
        " server.max_model_len to 164",
    )


def test_a_sweep_over_too_many_points_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="1120 points; a run has at most 1000"):
        _load(tmp_path, {"server": {"max_num_seqs": list(range(1, 41))},
                         "workload": {"output_len": list(range(1, 15))}})


def test_lanes_get_disjoint_gpus_and_ports(tmp_path: Path) -> None:
    loaded = _load(tmp_path, {"server": {"max_num_seqs": [4, 8, 16]}, "parallel": 2},
                   ("server.gpus=1", "server.host_port=18000"))
    setup = prepare(loaded, set(), host_gpus=2)
    assert [(s.project, s.gpu_ids, s.port_offset) for s in setup.slots] == [
        ("sw-s0", (0,), 0), ("sw-s1", (1,), 1)]
    server = setup.slots[1].spec_for(setup.matrix.variants[0].spec).server
    assert server is not None and (server.gpus, server.port, server.host_port) == ([1], 8001, 18001)
    assert setup.server_starts == 3
    with pytest.raises(ConfigError, match=r"sweep.parallel = 2 needs 2 x 1 GPU\(s\) = 2, but this"
                       r" host has 1; lower sweep.parallel"):
        prepare(loaded, set(), host_gpus=1)
    auto = _load(tmp_path, {"server": {"max_num_seqs": [4, 8, 16]}, "parallel": "auto"},
                 ("server.gpus=2", "server.tensor_parallel_size=2"))
    assert len(prepare(auto, set(), host_gpus=4).slots) == 2
    assert len(prepare(auto, set(), host_gpus=0).slots) == 1


def test_cpu_lanes_and_a_kept_server(tmp_path: Path) -> None:
    cpu = _load(tmp_path, {"server": {"max_num_seqs": [4, 8]}, "parallel": 2})
    assert [(s.project, s.gpu_ids) for s in prepare(cpu, set(), host_gpus=0).slots] == [
        ("sw-s0", None), ("sw-s1", None)]
    # startup_timeout does not change the server that runs: the second variant keeps it.
    same = _load(tmp_path, {"server": {"startup_timeout": [300, 600]}})
    assert prepare(same, set(), host_gpus=0).server_starts == 1


def test_records_rows_carry_settings_and_resume_reads_them_back(tmp_path: Path) -> None:
    loaded = _load(tmp_path, {"server": {"max_num_seqs": [4, 8]},
                              "workload": {"output_len": [16, 32]}})
    matrix = _matrix(loaded)
    folder = RunFolder.create(tmp_path, "run")
    first = matrix.all_points[0]
    (folder.raw / "v0").mkdir()
    (folder.raw / "v0" / first.name).write_text(json.dumps(
        {"completed": 8, "failed": 0, "max_concurrency": 1, "duration": 1.5,
         "output_throughput": 100.0}))
    records = SweepRecords.start(folder, matrix)
    assert list(records.rows) == [first.key]
    row = json.loads((folder.path / "summary.json").read_text())[0]
    assert (row["variant"], row["workload"], row["server.max_num_seqs"],
            row["workload.output_len"], row["concurrency"], row["file"]) == (
        "v0", "w0", 4, 16, 1, "raw/v0/w0-c1-r0.json")
    header = (folder.path / "summary.csv").read_text().splitlines()[0]
    assert header.startswith("variant,workload,repeat,server.max_num_seqs,workload.output_len,concurrency,")
    assert [v["name"] for v in json.loads((folder.path / "variants.json").read_text())] == ["v0", "v1"]
    setup = prepare(loaded, {first.key}, host_gpus=0)
    assert setup.done_before == 1 and len(setup.todo["v0"]) == 3
    check_resumable(folder, matrix)
    other = _matrix(_load(tmp_path, {"server": {"max_num_seqs": [4, 16]}}))
    with pytest.raises(ConfigError, match="makes a different matrix"):
        check_resumable(folder, other)


def test_a_point_measured_while_the_server_was_lost_is_flagged_and_measured_again(
        tmp_path: Path) -> None:
    matrix = _matrix(_load(tmp_path, {"server": {"max_num_seqs": [4]}}))
    folder = RunFolder.create(tmp_path, "run")
    first, second = matrix.all_points[:2]
    (folder.raw / "v0").mkdir()
    for point in (first, second):
        (folder.raw / "v0" / point.name).write_text(json.dumps(
            {"completed": 8, "failed": 0, "max_concurrency": 1, "duration": 1.5,
             "output_throughput": 100.0}))
    records = SweepRecords.start(folder, matrix)
    mark_server_lost(folder.raw / "v0" / second.name, "real-mn-server-0 is gone")
    assert "server-lost" in records.add(second, folder.raw / "v0" / second.name)["flags"].split()
    assert "server-lost" not in records.rows[first.key]["flags"].split()
    # A resume measures it again (its file stays where it was, beside what became of it).
    assert list(SweepRecords.start(folder, matrix).rows) == [first.key]
    assert (folder.raw / "v0" / f"{second.name}.server-lost").read_text() == \
        "real-mn-server-0 is gone\n"
    mark_server_lost(folder.raw / "v0" / second.name, None)  # measured again, unharmed
    assert list(SweepRecords.start(folder, matrix).rows) == [first.key, second.key]


def test_estimate_uses_earlier_runs_of_the_same_model(tmp_path: Path) -> None:
    loaded = _load(tmp_path, {"server": {"max_num_seqs": [4, 8]}})
    fresh = prepare(loaded, set(), host_gpus=0).estimate
    assert fresh.source.startswith("no earlier run of /models/tiny-qwen2")
    assert (fresh.ready_s, fresh.point_s, fresh.server_starts, fresh.points) == (60.0, 30.0, 2, 4)
    earlier = tmp_path / "results" / "20260101-000000-aaaa"
    earlier.mkdir(parents=True)
    (earlier / "config.yaml").write_text(yaml.safe_dump({"server": {"model": "/models/tiny-qwen2"}}))
    (earlier / "variants.json").write_text(json.dumps([{"ready_s": 40.0}, {"ready_s": 50.0}]))
    (earlier / "summary.json").write_text(json.dumps([{"duration": 2.0}, {"duration": 4.0}]))
    guess = prepare(loaded, set(), host_gpus=0).estimate
    assert (guess.ready_s, guess.point_s) == (45.0, 3.0)
    assert guess.wall_s == pytest.approx(2 * 45.0 + 4 * (3.0 + 1.0))
    assert guess.source == "from 1 earlier run(s) of /models/tiny-qwen2"


def _bench_points_module():
    scripts = str(data_dir("container_scripts"))  # its helpers sit beside it
    if scripts not in sys.path:
        sys.path.append(scripts)
    spec = importlib.util.spec_from_file_location(
        "bench_points", data_dir("container_scripts") / "bench_points.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_bench_command_is_what_bench_points_reads(tmp_path: Path) -> None:
    loaded = _load(tmp_path, {"workload": {"output_len": [16, 32]}},
                   ("workload.slo.ttft_ms=500",))
    matrix = _matrix(loaded)
    variant = matrix.variants[0]
    argv = bench_argv(variant.spec, build_bench_plan(variant.spec, "sw", "RUN"), variant,
                      matrix.points(variant), 300)
    assert argv[:2] == ["python3", "/opt/orchestrator/scripts/bench_points.py"]
    parsed = _bench_points_module().parse(argv[2:])
    assert [(p.concurrency, p.name, p.workload) for p in parsed.points] == [
        (1, "w0-c1-r0.json", "w0"), (2, "w0-c2-r0.json", "w0"),
        (1, "w1-c1-r0.json", "w1"), (2, "w1-c2-r0.json", "w1")]
    # Every point sends prompts of its own (its own seed), so none measures cached prefill.
    seeds = [p.seed for p in parsed.points]
    assert len(set(seeds)) == 4 and seeds == [p.seed() for p in matrix.points(variant)]
    assert [p.prompts for p in parsed.points] == [p.prompts for p in matrix.points(variant)]
    assert parsed.reset_prefix_cache
    assert parsed.result_dir == "/root/bench_results/RUN/v0"
    assert parsed.wait_ready == ("http://sw-server:8000", 300.0)
    # The dataset's flags are bench_points.py's to build (as for run_benchmark.sh), the rest ours.
    assert parsed.workloads["w1"].flags == [
        "--dataset-name", "random", "--random-input-len", "64", "--random-output-len", "32",
        *workload_flags(matrix.workloads[0][1].workload)]
    assert "--random-output-len" in parsed.workloads["w1"].flags
    assert parsed.workloads["w1"].flags[parsed.workloads["w1"].flags.index("--random-output-len") + 1] == "32"
    assert parsed.workloads["w0"].flags[-2:] == ["--goodput", "ttft:500"]
    assert "output_len=32" in parsed.workloads["w1"].metadata
    assert parsed.flags[:4] == ["--backend", "openai", "--base-url", "http://sw-server:8000"]


def test_a_server_the_tool_did_not_start_gets_prompts_of_the_runs_own(tmp_path: Path) -> None:
    """Two runs against one kept server must not send it the same prompts (its prefix cache
    would answer them: 97% hits on an H200); a started server's cache is reset instead, so a
    config's prompts stay the same from run to run."""
    def seeds(loaded, run_id: str) -> tuple[list[int | None], int | None, bool]:
        matrix = _matrix(loaded)
        variant = matrix.variants[0]
        parsed = _bench_points_module().parse(
            bench_argv(variant.spec, build_bench_plan(variant.spec, "sw", run_id), variant,
                       matrix.points(variant), None,
                       warmup=True)[2:])
        return [p.seed for p in parsed.points], parsed.warmup[2], parsed.reset_prefix_cache

    started = _load(tmp_path)
    assert seeds(started, "RUN1") == seeds(started, "RUN2")
    assert seeds(started, "RUN1")[2]
    kept = _load(tmp_path, None, ("client.server_url=http://host.docker.internal:8000",))
    first, second = seeds(kept, "RUN1"), seeds(kept, "RUN2")
    assert not set(first[0]) & set(second[0]) and first[1] != second[1]
    assert len(set(first[0])) == len(first[0]) and not first[2]


def test_dry_run_starts_nothing_and_shows_the_matrix(cli, tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.yaml"
    path.write_text(yaml.safe_dump({**BASE, "results_dir": str(tmp_path / "results")}))
    result = cli("up", "bench", "-f", str(path), "--sweep", "server.max_num_seqs=4,8",
                 "--sweep", "workload.output_len=16,32", "--dry-run",
                 env={"DOCKER_HOST": "unix:///nonexistent.sock"})  # no engine is reached
    assert result.exit_code == 0, result.stderr
    assert "2 server variant(s), 8 point(s), 2 server start(s), parallel 1" in result.stdout
    assert "max_num_seqs=8" in result.stdout and "dry run: nothing was started" in result.stdout
    # How each point is measured, and that each server variant compiles anew.
    assert "fresh prompts at every point" in result.stdout
    assert "each such start compiles anew" in result.stdout
    assert not (tmp_path / "results").exists()


def test_resume_needs_a_run_folder(cli, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no bench run there"):
        resume_config(str(tmp_path), None, None)
    result = cli("up", "bench", "--resume", str(tmp_path), "--set", "x=1")
    assert result.exit_code == 2 and "--resume reloads the run's own config" in result.stderr


def test_done_lines_name_the_point_and_its_time() -> None:
    done = POINT_DONE.match("=== done concurrency 4 -> /root/bench_results/R/v0/w1-c4-r0.json (1.25 s)")
    assert done is not None and (done.group("name"), done.group("took")) == ("w1-c4-r0.json", "1.25")
    bare = POINT_DONE.match("=== done concurrency 4 -> /root/bench_results/R/v0/w1-c4-r0.json")
    assert bare is not None and (bare.group("name"), bare.group("took")) == ("w1-c4-r0.json", None)


def test_points_get_their_own_prompts_and_enough_of_them(tmp_path: Path) -> None:
    loaded = _load(tmp_path, {"server": {"max_num_seqs": [4, 8]}}, ("workload.num_prompts=10",))
    matrix = _matrix(loaded)
    first, second = (matrix.points(v) for v in matrix.variants)
    # The same point of two server variants sends the same prompts; two points never do.
    assert [p.seed() for p in first] == [p.seed() for p in second]
    assert len({p.seed() for p in first}) == len(first)
    # At least 4 prompts per concurrency slot: 10 at c1 and c2, 4 x c above that.
    assert [(p.concurrency, p.prompts) for p in first] == [
        (c, max(10, 4 * c)) for c in first[0].workload.workload.concurrency_points]
    same = _matrix(_load(tmp_path, {}, ("workload.fresh_prompts=false", "workload.seed=7")))
    assert {p.seed() for p in same.all_points} == {7}


def test_beyond_vllm_counts_the_longest_lane_only() -> None:
    # Two lanes at once, 100 s of wall: each started a server (30 s, 40 s) and ran points.
    variants = [{"name": "v0", "slot": 0, "ready_s": 30.0}, {"name": "v1", "slot": 1,
                                                            "ready_s": 40.0}]
    rows = [{"variant": "v0", "duration": 20.0}, {"variant": "v1", "duration": 25.0},
            {"variant": "v1", "duration": 25.0}]
    lanes = beyond_vllm(100.0, variants, rows)
    assert (lanes.lane, lanes.lanes, lanes.points, lanes.beyond_s) == (1, 2, 2, 10.0)
    assert lanes.per_point_s == 5.0  # subtracting both lanes would give -40 s
    one = beyond_vllm(100.0, [{"name": "v0", "slot": 0, "ready_s": 30.0}],
                      [{"variant": "v0", "duration": 20.0}, {"variant": "v0", "duration": 5.0}])
    assert (one.beyond_s, one.ready_s, one.measured_s) == (45.0, [30.0], 25.0)

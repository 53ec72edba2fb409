"""The answers a run's rows give (SLO, flags, /metrics peaks) and the report built from them:
its numbers are summary.json's, its plots are there, and `orchestrator report` rebuilds it."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
from pathlib import Path

import yaml

from orchestrator.config import load_config
from orchestrator.resources import data_dir
from orchestrator.results.answers import metrics_summary
from orchestrator.results.run_folder import RunFolder
from orchestrator.results.sweep_records import SweepRecords
from orchestrator.serving import SERIES
from orchestrator.serving.sglang import SGLANG
from orchestrator.serving.vllm import VLLM

CONFIG = {
    "name": "rep",
    "server": {"model": "/models/tiny-qwen2", "gpus": 0, "max_model_len": 512, "hf_token": None,
               "max_num_seqs": 4},
    "workload": {"input_len": 64, "output_len": 32, "num_prompts": 20, "concurrency": [1, 2, 4, 8],
                 "slo": {"ttft_ms": 500, "attainment": 0.9}},
    "sweep": {"server": {"max_num_batched_tokens": [2048, 4096]}},
}
# (concurrency, output tok/s, goodput req/s, duration s, p99 TTFT ms, output tokens)
MEASURED = [(1, 100.0, 5.0, 4.0, 40.0, 640), (2, 190.0, 10.0, 2.0, 60.0, 640),
            (4, 350.0, 19.0, 1.0, 300.0, 640), (8, 360.0, 15.0, 1.0, 900.0, 500)]


def _server_metrics_module():
    spec = importlib.util.spec_from_file_location(
        "server_metrics", data_dir("container_scripts") / "server_metrics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_metrics_page_parsing() -> None:
    page = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="tiny"} 3.0
vllm:num_requests_waiting{engine="0",model_name="tiny"} 2.0
vllm:kv_cache_usage_perc{engine="0",model_name="tiny"} 0.25
vllm:num_preemptions_total{engine="0",model_name="tiny"} 1.0
vllm:prefix_cache_queries_total{engine="0",model_name="tiny"} 100.0
vllm:prefix_cache_hits_total{engine="0",model_name="tiny"} 40.0
process_cpu_seconds_total 12.5
"""
    assert _server_metrics_module().parse(page, VLLM.metrics) == {
        "running": 3.0, "waiting": 2.0, "kv_cache_usage": 0.25, "preemptions": 1.0,
        "prefix_cache_queries": 100.0, "prefix_cache_hits": 40.0}
    assert _server_metrics_module().parse("garbage {{{ ", VLLM.metrics)["running"] is None
    # vLLM's names read nothing from SGLang's page, and the other way round.
    assert set(_server_metrics_module().parse(page, SGLANG.metrics).values()) == {None}


def test_sglang_metrics_map_to_the_same_series() -> None:
    # SGLang's /metrics as its documentation and its metrics collector name it (transcribed,
    # not captured here: CI has no SGLang; test_serving.py checks the names against its
    # source); the radix cache's hits are summed over cache_source.
    page = (Path(__file__).parent / "data" / "sglang-metrics.txt").read_text()
    parsed = _server_metrics_module().parse(page, SGLANG.metrics)
    assert parsed == {"running": 16.0, "waiting": 4.0, "kv_cache_usage": 0.37,
                      "preemptions": 2.0, "prefix_cache_queries": 8192.0,
                      "prefix_cache_hits": 2048.0}
    assert tuple(SGLANG.metrics) == tuple(VLLM.metrics) == SERIES


def make_run(tmp_path: Path) -> tuple[Path, SweepRecords]:
    config = tmp_path / "orchestrator.yaml"
    config.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    loaded = load_config(config, environ={})
    assert loaded.matrix is not None
    folder = RunFolder.create(tmp_path, "run")
    folder.write_yaml("config.yaml", {"project": "rep", **yaml.safe_load(config.read_text())})
    for variant in loaded.matrix.variants:
        (folder.raw / variant.name).mkdir()
        series = folder.path / "metrics" / variant.name
        series.mkdir(parents=True)
        for point, (conc, thr, goodput, duration, p99, tokens) in zip(
                loaded.matrix.points(variant), MEASURED, strict=True):
            scale = 1.0 + variant.index  # v1 is faster
            (folder.raw / variant.name / point.name).write_text(json.dumps({
                "completed": 20, "failed": 0, "max_concurrency": conc, "duration": duration,
                "request_throughput": 20 / duration, "output_throughput": thr * scale,
                "request_goodput": goodput, "mean_ttft_ms": p99 / 2, "p50_ttft_ms": p99 / 2,
                "p99_ttft_ms": p99, "mean_tpot_ms": 5.0, "p50_tpot_ms": 5.0, "p99_tpot_ms": 8.0,
                "mean_e2el_ms": p99 + 150, "p50_e2el_ms": p99 + 150, "p99_e2el_ms": p99 + 300,
                "mean_itl_ms": 5.0, "total_output_tokens": tokens}))
            waiting = 3 if conc > 4 else 0
            (series / point.name.replace(".json", ".csv")).write_text(
                "t_s,running,waiting,kv_cache_usage,preemptions,prefix_cache_queries,prefix_cache_hits\n"
                f"0.00,{min(conc, 4)},{waiting},0.1,0,10,0\n0.50,{min(conc, 4)},0,0.3,1,30,5\n")
    records = SweepRecords.start(folder, loaded.matrix)
    return folder.path, records


def test_rows_carry_the_answers(tmp_path: Path) -> None:
    run, _ = make_run(tmp_path)
    rows = json.loads((run / "summary.json").read_text())
    first, last = rows[0], rows[3]
    assert first["slo_attainment"] == 1.0 and first["slo_met"] is True  # 5 req/s x 4 s = 20 of 20
    assert last["slo_attainment"] == 0.75 and last["slo_met"] is False
    assert first["output_throughput_per_user"] == 100.0 and first["output_throughput_per_gpu"] is None
    assert (last["max_waiting"], last["max_kv_cache_usage"], last["preemptions"]) == (3.0, 0.3, 1.0)
    assert last["prefix_cache_hit_rate"] == 0.25
    # concurrency 8 > max_num_seqs 4 (and requests waited); 500 of 640 tokens is a shortfall
    # a quarter of the prompt tokens hit the prefix cache: prefill was not measured
    assert last["flags"] == "hidden-queueing output-shortfall prefix-cache-hits"
    assert first["flags"] == "prefix-cache-hits"
    header = (run / "summary.csv").read_text().splitlines()[0]
    assert header.endswith("slo_met,output_throughput_per_user,output_throughput_per_gpu,max_running,"
                           "max_waiting,max_kv_cache_usage,preemptions,prefix_cache_hit_rate,"
                           "metrics_scrapes,metrics_coverage,bound_output_tok_s,efficiency,flags,point_seed,cold,"
                           "prefix_cache_reset,file")


def test_metrics_summary_of_a_missing_series_is_empty(tmp_path: Path) -> None:
    assert metrics_summary(tmp_path / "none.csv") == {}


def test_the_report_answers_from_summary_json(cli, tmp_path: Path) -> None:
    run, _ = make_run(tmp_path)
    result = cli("report", str(run))
    assert result.exit_code == 0, result.stderr
    rows = json.loads((run / "summary.json").read_text())
    markdown = (run / "report.md").read_text()
    # Every point's throughput appears as summary.json has it.
    for row in rows:
        assert f"| {row['concurrency']} | 0 | {row['output_throughput']:,.2f} |" in markdown
    best = max(rows, key=lambda r: r["output_throughput"])
    assert re.search(rf"\| highest throughput \| {best['variant']} w0 c{best['concurrency']} \|"
                     rf" {best['output_throughput']:,.2f} \|", markdown)
    assert "--max-num-batched-tokens 4096" in markdown.split("## Capacity")[0]
    # Attainment 0.95 at 4, 0.75 at 8: 0.9 is crossed at 4 + (0.05 / 0.2) * 4 = 5; from 4 to 8
    # throughput grows 2.9% while E2E latency grows: the knee is at 4. At capacity (the point
    # at 4): 20 req/s and 350 out tok/s, per hour.
    assert ("| v0 w0 | max_num_batched_tokens=2048 | ~5.0 (interpolated) | none yet (one run;"
            " set sweep.repeats) | 4: past concurrency 4 each added request buys 2.5 tok/s or"
            " less, under 10% of the 100 tok/s one request gets at the lowest concurrency"
            " (monotone fit), while latency grows | 72,000 | 1,260,000 |") in markdown
    # One run per point: the best is named, but without a confidence.
    assert "| highest throughput | v1 w0 c8 | 720.00 | no confidence yet" in markdown
    assert "hidden-queueing output-shortfall" in markdown
    page = (run / "report.html").read_text()
    images = re.findall(r'<img id="plot-(\w+)" alt="\w+" src="data:image/png;base64,([^"]+)"', page)
    assert [name for name, _ in images] == ["throughput", "latency", "pareto"]
    for name, encoded in images:
        png = base64.b64decode(encoded)
        assert png.startswith(b"\x89PNG") and png == (run / "report" / f"{name}.png").read_bytes()
    assert "<script" not in page  # self-contained and inert


def test_a_combined_report_needs_a_folder(cli, tmp_path: Path) -> None:
    run, _ = make_run(tmp_path)
    refused = cli("report", str(run), str(run))
    assert refused.exit_code == 2 and "-o DIR" in refused.stderr
    combined = cli("report", str(run), str(run), "-o", str(tmp_path / "both"))
    assert combined.exit_code == 0, combined.stderr
    assert "run:v1 w0" in (tmp_path / "both" / "report.md").read_text()


def test_a_training_report_from_metrics_and_rollouts(tmp_path: Path) -> None:
    from orchestrator.results.train_report import write_train_report

    (tmp_path / "metrics.csv").write_text(
        "step,loss,reward,kl,grad_norm\n1,0.5,0.1,0.0,1.2\n2,0.4,0.3,0.01,1.0\n3,,,,\n")
    (tmp_path / "rollouts.log").write_text(
        "LLM Generation: 1000ms | Tokens: 40 in / 64 out | Completions: 2 (max 32 out)\n"
        "LLM Generation: 500ms | Tokens: 40 in / 64 out | Completions: 2 (max 40 out)\n")
    md_path, html_path = write_train_report(tmp_path)
    markdown = md_path.read_text()
    assert "| reward | 2 | 0.3 |" in markdown and "| grad_norm | 2 | 1 |" in markdown
    assert "| 2 | 64.0 | 128.0 | 40 |" in markdown  # generations, min/median tok/s, longest
    assert "| 0.1 | 0.3 | 0 of 0 | 2 of 2 | too few steps to tell |" in markdown
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") == 2
    assert (tmp_path / "report" / "training.png").read_bytes().startswith(b"\x89PNG")


def test_the_training_report_says_whether_the_run_learned() -> None:
    from orchestrator.results.train_report import learning_signal

    steps = [(float(s), v) for s, v in enumerate([0.1, 0.2, 0.2, 0.4, 0.5, 0.6], 1)]
    spread = [(s, 0.3) for s, _ in steps]
    assert learning_signal(steps, spread, spread) == [
        "0.15", "0.55", "6 of 6", "6 of 6", "reward rising"]
    # The GPU proofs before rewards with variance: one reward for every completion.
    flat = [(s, 0.0) for s, _ in steps]
    row = learning_signal([(s, 1.0) for s, _ in steps], flat, flat)
    assert row[2:4] == ["0 of 6", "0 of 6"] and row[4].startswith("none: every completion")
    assert learning_signal(list(reversed(steps)), spread, spread)[4] == "reward not rising"
    assert learning_signal([], [], [])[4] == "no steps logged"


def test_capacity_over_a_swept_request_rate() -> None:
    from orchestrator.results.report_tables import _rate_capacity

    rows = [{"variant": "v0", "workload.request_rate": rate, "slo_met": met}
            for rate, met in ((2, True), (8, True), ("inf", False))]
    rows += [{"variant": "v1", "workload.request_rate": 2, "slo_met": False}]
    assert _rate_capacity(rows) == {"v0": "8 req/s", "v1": "none"}
    assert _rate_capacity([{"variant": "v0", "slo_met": True}]) == {}

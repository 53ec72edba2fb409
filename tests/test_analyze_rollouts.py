"""`orchestrator analyze rollouts`: seed 000's diagnosis from trainer logs, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.analysis.rollouts import analyze, percentile

LOGS = Path(__file__).parent / "rollout_logs"


def test_seed_like_log(cli) -> None:
    result = cli("analyze", "rollouts", str(LOGS / "seed-000-tool-calls.log"), "--json",
                 "--max-tokens", "4096", "--min-output-tokens", "500")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["turns"] == 40
    assert 14 <= report["tokens_per_s"]["min"] <= report["tokens_per_s"]["p50"] <= 18.5
    assert report["output_tokens"]["max"] == 700
    assert {t["tokens_out"] for t in report["long_turns"]} == {520, 700}
    assert len(report["thinking_before_tool"]) == 4  # every 10th turn thinks before its call
    assert report["thinking_before_tool"][0]["starts"].startswith("<think>Let me think")
    assert [u["text"][:20] for u in report["unparsed"]] == ["LLM Generation: 12ms", "LLM Output: \"untermi"]
    assert report["at_limit"] == 0
    p90 = report["output_tokens"]["p90"]
    assert report["recommended_max_tokens"] % 64 == 0 and report["recommended_max_tokens"] >= p90
    assert "MAX_TOKENS=4096 allows up to" in report["reason"]


def test_human_output(cli) -> None:
    result = cli("analyze", "rollouts", str(LOGS / "seed-000-tool-calls.log"), "--show-raw-output")
    assert result.exit_code == 0
    assert "40 generation turn(s)" in result.stdout
    assert "2 timing-like line(s) could not be parsed" in result.stdout
    assert "4 turn(s) think aloud before a tool call" in result.stdout
    assert "'<think>Let me think" in result.stdout
    assert "recommended MAX_TOKENS=" in result.stdout


def test_outputs_cut_off_by_the_limit_ask_for_more(cli) -> None:
    report = analyze(LOGS / "cut-off-at-256.log", max_tokens=256)
    assert report.at_limit == 8
    assert report.recommended_max_tokens == 512
    assert "8 of 10 turns stopped at MAX_TOKENS=256" in report.reason


def test_binary_junk_and_empty_files_do_not_crash(cli, tmp_path) -> None:
    junk = analyze(LOGS / "binary-junk.log")
    assert junk.turns == 2 and junk.other_lines == 1
    empty = tmp_path / "empty.log"
    empty.write_text("")
    result = cli("analyze", "rollouts", str(empty))
    assert result.exit_code == 0
    assert "0 generation turn(s)" in result.stdout and "no `LLM Generation" in result.stdout
    assert json.loads(cli("analyze", "rollouts", str(empty), "--json").stdout)["turns"] == 0


def test_missing_file_is_a_usage_error(cli) -> None:
    result = cli("analyze", "rollouts", "no/such.log")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


@pytest.mark.parametrize(("q", "expected"), [(50, 3), (90, 5), (100, 5), (1, 1)])
def test_percentile_nearest_rank(q, expected) -> None:
    assert percentile([5, 1, 4, 2, 3], q) == expected


def test_a_batch_turn_carries_each_of_its_outputs(tmp_path) -> None:
    log = tmp_path / "batch.log"
    log.write_text("LLM Generation: 900ms | Tokens: 40 in / 90 out\n"
                   'LLM Output: "{\\"name\\": \\"search\\"}"\n'
                   'LLM Output: "Let me think step by step. {\\"name\\": \\"search\\"}"\n')
    report = analyze(log)
    assert report.turns == 1 and report.unparsed == []
    assert [t["starts"] for t in report.thinking_before_tool] == ["Let me think step by step."]


def test_batch_lines_are_judged_per_completion(tmp_path: Path) -> None:
    # The 2-GPU run's trainer: 8 completions of at most 128 tokens summed to "1024 out".
    log = tmp_path / "rollouts.log"
    log.write_text("".join(
        f"LLM Generation: 900ms | Tokens: 400 in / {1024 - i} out | Completions: 8 (max {128 - i} out)\n"
        for i in range(10)))
    report = analyze(log, min_output_tokens=512, max_tokens=1024)
    assert report.at_limit == 0 and report.long_turns == []  # no completion reached 1024
    assert report.output_tokens["max"] == 128
    assert report.tokens_per_s["p50"] == pytest.approx(1019 / 0.9, rel=0.01)  # the batch's speed
    at_limit = analyze(log, max_tokens=128)
    assert at_limit.at_limit == 1 and "stopped at MAX_TOKENS=128" not in at_limit.reason

"""The users' own workloads for real on Docker (the local runtime and the real cluster run the
same checks from their own modules): a custom JSONL of prompts, and multi-turn conversations
replayed turn by turn with a warm-up measured apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import leftovers, read_json

CONVERSATIONS = "examples/cpu-conversations.yaml"  # 16 conversations, 44 user turns, warm-up 4
TURNS, COUNT, WARMUP = 44, 16, 4
TINY = "examples/cpu-tiny.yaml"
PROMPTS = "examples/data/prompts.jsonl"  # 23 prompts
CUSTOM = ["--set", "workload.dataset=custom", "--set", f"workload.dataset_path={PROMPTS}",
          "--set", "workload.num_prompts=23", "--set", "workload.concurrency=[4]"]


def check_conversations(run: Path, concurrencies: list[int], recorded: bool,
                        report: bool = True) -> None:
    """Every point replayed every conversation to its end, and says how long that took; the
    warm-up is home apart, and the report (where matplotlib is installed) sets cold beside
    warm."""
    summary = read_json(run / "summary.json")
    assert isinstance(summary, list)
    assert [row["concurrency"] for row in summary] == concurrencies
    inputs = set()
    for row in summary:
        data = read_json(run / row["file"])
        assert isinstance(data, dict)
        assert (data["completed"], data["failed"], data["num_prompts"]) == (TURNS, 0, TURNS)
        assert (data["conversations"], data["conversations_completed"]) == (COUNT, COUNT)
        assert data["total_output_tokens"] == TURNS * 16  # output_len 16, ignore_eos
        assert data["conversations_per_s"] == pytest.approx(COUNT / data["time_to_finish_s"])
        assert [t["requests"] for t in data["per_turn"]] == [16, 16, 9, 3]
        # Each turn carries the history before it: later turns send more tokens.
        means = [t["mean_input_tokens"] for t in data["per_turn"]]
        assert means == sorted(means) and means[0] < means[-1]
        assert all(t["mean_ttft_ms"] > 0 and t["mean_output_tokens"] == 16 for t in data["per_turn"])
        for key in ("time_to_finish_s", "conversations_per_s", "completed", "mean_ttft_ms"):
            assert row[key] == data[key]
        inputs.add(data["total_input_tokens"])
    if recorded:  # the file's own answers as history: every point sent the very same prompts
        assert len(inputs) == 1
    (variant,) = read_json(run / "variants.json")  # type: ignore[misc]
    warmup = variant["warmup"]
    assert (warmup["requests"], warmup["completed"], warmup["failed"]) == (WARMUP, WARMUP, 0)
    assert warmup["mean_ttft_ms"] > 0 and warmup["wall_s"] > 0
    assert (run / "warmup" / "v0.json").is_file() and not (run / "raw" / "v0" / "warmup.json").exists()
    header = (run / "summary.csv").read_text().splitlines()[0].split(",")
    assert {"conversations", "time_to_finish_s", "conversations_per_s"} <= set(header)
    if not report:
        return
    markdown = (run / "report.md").read_text()
    assert "## Conversations: time to finish them all" in markdown
    assert "## Cold start: the warm-up against the first warm point" in markdown
    assert "shortest time to finish the conversations" in markdown


def check_custom(run: Path) -> None:
    """The user's prompts, each sent once, their outputs workload.output_len long."""
    (row,) = read_json(run / "summary.json")  # type: ignore[misc]
    data = read_json(run / row["file"])
    assert isinstance(data, dict)
    assert (data["completed"], data["failed"], data["dataset"]) == (23, 0, "custom")
    assert data["total_output_tokens"] == 23 * 32  # cpu-tiny's output_len, through --custom-output-len
    assert "time_to_finish_s" not in row
    # Warm-up on by default: 4 requests (concurrency 4) before the point, kept apart.
    assert read_json(run / "warmup" / "v0.json")["completed"] == 4  # type: ignore[index]


def test_conversations_replayed_on_docker(orch, project) -> None:
    result = orch("up", "bench", "-f", CONVERSATIONS, "-p", project,
                  "--set", f"results_dir={orch.results}")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run,) = orch.runs()
    check_conversations(run, [1, 2, 4, 8, 16], recorded=True)
    assert "v0: warm-up 4 request(s) apart" in result.stdout
    assert "conv/s" in result.stdout
    assert leftovers(project) == []


def test_a_custom_jsonl_on_docker(orch, project) -> None:
    result = orch("up", "bench", "-f", TINY, "-p", project, "--set",
                  f"results_dir={orch.results}", *CUSTOM)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run,) = orch.runs()
    check_custom(run)
    assert leftovers(project) == []


def test_a_sharegpt_file_on_docker(orch, project) -> None:
    result = orch("up", "bench", "-f", TINY, "-p", project, "--set", f"results_dir={orch.results}",
                  "--set", "workload.dataset=sharegpt", "--set",
                  "workload.dataset_path=tests/data/sharegpt-small.json",
                  "--set", "workload.num_prompts=8", "--set", "workload.concurrency=[2]")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run,) = orch.runs()
    (row,) = read_json(run / "summary.json")  # type: ignore[misc]
    data = read_json(run / row["file"])
    assert isinstance(data, dict)
    assert (data["completed"], data["failed"], data["dataset"]) == (8, 0, "sharegpt")
    assert data["total_output_tokens"] == 8 * 32  # --sharegpt-output-len from workload.output_len
    assert leftovers(project) == []

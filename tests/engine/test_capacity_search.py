"""Capacity by search for real (Docker, vLLM's CPU build, `vllm bench serve`): a server that
runs one request at a time (max_num_seqs 1) and an SLO on the first token that a request
waiting for the slot misses by far (a 960-token answer, 3.5 s or more, against 1.5 s for half
of the requests), so the answer holds on a busy 2-core machine. The search brackets the
capacity in fewer points than a grid over the same range, and the grid agrees; a grid whose
series saturates and fails skips the rest. (Bisection is unit-tested in tests/test_search.py.)
The search runs each probe twice (sweep.repeats 2), judged on both runs' requests together."""

from __future__ import annotations

from .conftest import leftovers, read_json

SEARCH = "examples/cpu-search.yaml"
GRID = ["--set", "sweep.search=null", "--set", "workload.concurrency=[1, 2, 3, 4]"]


def _measured(run) -> list[int]:
    return [int(r["concurrency"]) for r in read_json(run / "summary.json")]


def test_the_search_brackets_the_capacity_in_fewer_points_than_a_grid(orch, project, quiet_machine) -> None:
    common = ["-f", SEARCH, "-p", project, "--set", f"results_dir={orch.results}"]
    search = orch("up", "bench", *common, "--set", "sweep.repeats=2")
    assert search.returncode == 0, search.stderr + search.stdout[-3000:]
    grid = orch("up", "bench", *common, *GRID, "--set", "sweep.skip_saturated=false")
    assert grid.returncode == 0, grid.stderr + grid.stdout[-3000:]
    searched, gridded = orch.runs()

    (variant,) = read_json(searched / "variants.json")
    (answer,) = variant["search"].values()
    assert (answer["capacity"], answer["above"]) == (1, 2), answer
    # Each probe added as the one before came home; the first failure probed again.
    assert [p["value"] for p in answer["probes"]] == [1, 2, 2] and answer["runs_per_probe"] == 2
    said = " ".join(search.stdout.split())  # the console wraps long lines
    assert "run 2 times and judged on all its requests together" in said
    assert "v0 w0: next probe c2 (doubling: every probe passed)" in search.stdout
    assert "v0 w0: next probe c2 (confirming the first failure, at 2)" in search.stdout
    assert "v0 w0: capacity c1 after 3 probe(s): bracketed: 1 passes, 2 fails" in search.stdout
    # Each probe two full points, home, each with prompts of its own; the time spent
    # measuring (first point's start to last point home) within the run's wall time.
    rows = read_json(searched / "summary.json")
    assert [(int(r["concurrency"]), r["repeat"]) for r in rows] == [
        (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (2, 3)]
    assert len({r["point_seed"] for r in rows}) == 6
    environment = read_json(searched / "environment.json")
    assert 0 < variant["measuring_s"] < environment["timings"]["total_s"]
    # The grid over the same range agrees: its highest measured pass is the search's answer.
    rows = read_json(gridded / "summary.json")
    assert max(int(r["concurrency"]) for r in rows if r["slo_met"]) == answer["capacity"]
    assert len(rows) == 4 > len(answer["probes"])
    report = (searched / "report.md").read_text()
    assert "## Capacity search" in report and "| v0 w0 | concurrency | 1 | 2 | 3 |" in report
    assert leftovers(project) == []


def test_a_saturated_failing_grid_skips_its_higher_points(orch, project, quiet_machine) -> None:
    grid = ["--set", "sweep.search=null", "--set", "workload.concurrency=[1, 2, 3, 4, 5, 6]"]
    done = orch("up", "bench", "-f", SEARCH, "-p", project, "--set",
                f"results_dir={orch.results}", *grid)
    assert done.returncode == 0, done.stderr + done.stdout[-3000:]
    (run,) = orch.runs()
    # One request at a time: past c1 more users buy queueing. Where the throughput stops
    # growing (within 10% of the load's growth) is a measurement on a busy machine (c2 or c3
    # here); from the first saturated point that fails the SLO, the rest is skipped.
    measured = _measured(run)
    last = measured[-1]
    assert measured == list(range(1, last + 1)) and 2 <= last <= 5, measured
    rest = list(range(last + 1, 7))
    said = f"v0 w0: saturated at c{last} and failing the SLO: skipping c{', c'.join(map(str, rest))}"
    assert said + " (about" in done.stdout, done.stdout[-2000:]
    (variant,) = read_json(run / "variants.json")
    assert variant["skipped"] == [f"w0-c{c}-r0.json" for c in rest]
    assert variant["saved_s"] > 0 and variant["status"] == "done"
    assert leftovers(project) == []

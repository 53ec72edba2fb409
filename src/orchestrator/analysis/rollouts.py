"""Seed 000's diagnosis, automated: how fast rollouts generate, and what MAX_TOKENS should be.

Reads the timing lines a GRPO trainer writes for every rollout generation,

    LLM Generation: 45210ms | Tokens: 812 in / 704 out

optionally with `| Completions: 8 (max 128 out)` (orchestrator's trainer: a line sums a batch
of completions; lengths and MAX_TOKENS are then judged on the longest one), optionally each
followed by the generated texts (a batch has several), one per line as
`LLM Output: "<JSON string>"`. Lines that are
neither are counted as other lines; timing-like lines that do not parse are counted and shown.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Bounded digit counts: a line with a 400-digit number is not a timing line (it is listed as
# unparsed), and every figure computed from one that is stays finite.
TIMING = re.compile(
    r"LLM Generation:\s*(?P<ms>\d{1,12}(?:\.\d{1,6})?)\s*ms\s*\|\s*Tokens:\s*(?P<inp>\d{1,12})\s*in"
    r"\s*/\s*(?P<out>\d{1,12})\s*out"
    # orchestrator's trainer adds the batch's size and longest completion
    r"(?:\s*\|\s*Completions:\s*(?P<n>\d{1,9})\s*\(max\s*(?P<max>\d{1,12})\s*out\))?"
)
RAW = re.compile(r"LLM Output:\s*(?P<text>\".*\")\s*$")
# Text that reads as thinking aloud, and markers that open a tool call.
THINKING = re.compile(r"<think>|\bthinking\b|\blet me think\b|\bfirst, i\b|\bstep by step\b", re.I)
TOOL_CALL = re.compile(r"<tool_call>|\{\s*\"(?:name|tool|function)\"\s*:", re.I)


@dataclass
class Turn:
    """One rollout generation."""

    line: int
    ms: float
    tokens_in: int
    tokens_out: int
    texts: list[str] = field(default_factory=list)
    completions: int = 1  # a batch line sums several completions
    longest: int | None = None  # the batch's longest completion, where the line says

    @property
    def per_completion(self) -> int:
        """The longest completion's tokens (MAX_TOKENS limits each completion, not the batch
        sum); a line that does not say gives its total."""
        return self.longest if self.longest is not None else self.tokens_out

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second for this turn."""
        return self.tokens_out / (self.ms / 1000) if self.ms > 0 else 0.0


@dataclass
class Report:
    """Everything `orchestrator analyze rollouts` says, as data."""

    file: str
    turns: int
    other_lines: int
    unparsed: list[dict[str, Any]] = field(default_factory=list)
    tokens_per_s: dict[str, float] = field(default_factory=dict)
    output_tokens: dict[str, float] = field(default_factory=dict)
    output_histogram: list[dict[str, int]] = field(default_factory=list)
    long_turns: list[dict[str, Any]] = field(default_factory=list)
    at_limit: int = 0
    thinking_before_tool: list[dict[str, Any]] = field(default_factory=list)
    recommended_max_tokens: int | None = None
    reason: str = ""

    def to_json(self) -> str:
        """The report for machines."""
        return json.dumps(asdict(self), indent=2)


def parse(path: Path) -> tuple[list[Turn], int, list[dict[str, Any]]]:
    """(turns, number of other lines, timing-like lines that did not parse) of a log file."""
    turns: list[Turn] = []
    other = 0
    unparsed: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            timing = TIMING.search(line)
            raw = RAW.search(line)
            if timing:
                turns.append(Turn(number, float(timing["ms"]), int(timing["inp"]), int(timing["out"]),
                                  completions=int(timing["n"] or 1),
                                  longest=int(timing["max"]) if timing["max"] else None))
            elif raw and turns:
                try:
                    turns[-1].texts.append(json.loads(raw["text"]))
                except ValueError:
                    unparsed.append({"line": number, "text": line.strip()[:120]})
            elif "LLM Generation" in line or "LLM Output" in line:
                unparsed.append({"line": number, "text": line.strip()[:120]})
            else:
                other += 1
    return turns, other, unparsed


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def analyze(path: Path, min_output_tokens: int = 512, max_tokens: int | None = None) -> Report:
    """Figures and a MAX_TOKENS recommendation from one log file."""
    turns, other, unparsed = parse(path)
    report = Report(file=str(path), turns=len(turns), other_lines=other, unparsed=unparsed)
    if not turns:
        report.reason = "no `LLM Generation: <ms>ms | Tokens: <in> in / <out> out` lines found"
        return report
    speeds = [t.tokens_per_s for t in turns]
    outs = [float(t.per_completion) for t in turns]
    report.tokens_per_s = {"p50": percentile(speeds, 50), "p90": percentile(speeds, 90),
                           "min": min(speeds)}
    report.output_tokens = {"min": min(outs), "p50": percentile(outs, 50),
                            "p90": percentile(outs, 90), "max": max(outs)}
    report.output_histogram = _histogram([t.per_completion for t in turns])
    report.long_turns = [{"line": t.line, "tokens_out": t.per_completion, "ms": t.ms}
                         for t in turns if t.per_completion >= min_output_tokens]
    if max_tokens:
        report.at_limit = sum(1 for t in turns if t.per_completion >= max_tokens)
    for turn in turns:
        for text in turn.texts:
            tool = TOOL_CALL.search(text)
            before = text[: tool.start()] if tool else ""
            if tool and THINKING.search(before):
                report.thinking_before_tool.append(
                    {"line": turn.line, "tokens_out": turn.tokens_out,
                     "chars_before_tool_call": len(before), "starts": before.strip()[:80]})
    report.recommended_max_tokens, report.reason = _recommend(turns, report, max_tokens)
    return report


def _histogram(outs: list[int]) -> list[dict[str, int]]:
    edges = [0, 64, 128, 256, 512, 1024, 2048, 4096]
    buckets = []
    for low, high in zip(edges, [*edges[1:], None], strict=True):
        count = sum(1 for o in outs if o >= low and (high is None or o < high))
        if count:
            buckets.append({"from": low, "to": high or max(outs) + 1, "turns": count})
    return buckets


def _recommend(turns: list[Turn], report: Report, max_tokens: int | None) -> tuple[int, str]:
    p90 = report.output_tokens["p90"]
    speed = report.tokens_per_s["p50"]
    if max_tokens and report.at_limit / len(turns) > 0.1:
        value = max_tokens * 2
        return value, (
            f"{report.at_limit} of {len(turns)} turns stopped at MAX_TOKENS={max_tokens}: outputs are"
            f" being cut off; raise it to {value} (or train shorter answers)"
        )
    # Room above what 90% of turns need, rounded up to a multiple of 64.
    value = max(64, math.ceil(p90 * 1.25 / 64) * 64)
    reason = f"90% of turns generate at most {p90:.0f} tokens; {value} leaves 25% headroom"
    if speed > 0:
        reason += f". At the median {speed:.1f} tok/s a turn that long takes {value / speed:.1f}s"
    if speed > 0 and max_tokens and max_tokens > value:
        reason += (f", where MAX_TOKENS={max_tokens} allows up to {max_tokens / speed:.1f}s"
                   f" per turn")
    if report.thinking_before_tool:
        reason += (f"; {len(report.thinking_before_tool)} turn(s) reason at length before a tool"
                   " call: prompting for the call directly shortens them")
    return value, reason

"""Multi-turn replay for bench_points.py: conversations sent turn by turn over
/v1/chat/completions, `concurrency` conversations in flight, each user turn with the history so
far (the server's own answers, or the file's assistant turns with replay "recorded").

Requests go through vLLM's own benchmark request function (streamed chat completions: TTFT,
inter-token latencies, usage tokens) and are summed up by vLLM's own `calculate_metrics`, so a
replay's result JSON has `vllm bench serve`'s keys, plus the replay's: conversations,
conversations_per_s, time_to_finish_s (the wall time to finish them all) and per_turn (TTFT,
TPOT and tokens by turn number).

The file (checked by orchestrator before anything starts) is JSONL, one conversation per line:
{"messages": [{"role": "system" | "user" | "assistant", "content": "..."}, ...]}.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Replay:
    """What to replay and how (from the workload's JSON and vLLM's parsed flags)."""

    path: str
    replay: str  # live | recorded
    output_len: int
    count: int  # conversations to replay, in file order
    concurrency: int
    base_url: str
    model_id: str
    model_name: str
    temperature: float
    ignore_eos: bool
    percentiles: list[float]
    goodput: dict[str, float]
    first_turns: bool = False  # a warm-up: only each conversation's first user turn


@dataclass
class Turn:
    """One request's outcome, with where it sat."""

    conversation: int
    turn: int  # 1: the conversation's first user turn
    output: Any  # vLLM's RequestFuncOutput


def load(path: str, count: int) -> list[list[dict[str, str]]]:
    """The first `count` conversations' messages."""
    conversations = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                conversations.append(json.loads(line)["messages"])
            if len(conversations) == count:
                break
    return conversations


async def _conversation(index: int, messages: list[dict[str, str]], replay: Replay,
                        session: Any, request: Any, make_input: Any) -> list[Turn]:
    history: list[dict[str, str]] = []
    turns: list[Turn] = []
    for position, message in enumerate(messages):
        if message["role"] != "user":
            if message["role"] == "system" or replay.replay == "recorded":
                history.append({"role": message["role"], "content": message["content"]})
            continue
        history.append({"role": "user", "content": message["content"]})
        output = await request(make_input(
            prompt="", api_url=f"{replay.base_url}/v1/chat/completions", prompt_len=0,
            output_len=replay.output_len, model=replay.model_id, model_name=replay.model_name,
            # The history as the request's messages: extra_body is merged into the payload last
            # by every vLLM version's request function (older ones have no chat_messages).
            extra_body={"messages": list(history), "temperature": replay.temperature},
            ignore_eos=replay.ignore_eos, request_id=f"conv{index}-turn{len(turns) + 1}"),
            session)
        turns.append(Turn(index, len(turns) + 1, output))
        if not output.success or replay.first_turns:
            break  # the rest of this conversation would build on an answer that never came
        recorded_next = position + 1 < len(messages) and messages[position + 1]["role"] == "assistant"
        if replay.replay == "live" or not recorded_next:
            history.append({"role": "assistant", "content": output.generated_text})
    return turns


async def _replay(conversations: list[list[dict[str, str]]], replay: Replay) -> tuple[list[Turn], float]:
    import aiohttp
    from vllm.benchmarks.lib.endpoint_request_func import (
        RequestFuncInput,
        async_request_openai_chat_completions,
    )

    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(conversations)):
        queue.put_nowait(index)
    done: list[Turn] = []
    timeout = aiohttp.ClientTimeout(total=6 * 60 * 60)
    connector = aiohttp.TCPConnector(limit=replay.concurrency, force_close=False)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            done.extend(await _conversation(index, conversations[index], replay, session,
                                            async_request_openai_chat_completions,
                                            RequestFuncInput))

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector,
                                     trust_env=True) as session:
        await asyncio.gather(*(worker(session) for _ in range(min(replay.concurrency,
                                                                   len(conversations)))))
    return done, time.perf_counter() - started


def run(replay: Replay) -> dict[str, Any]:
    """Replay the conversations; the result in `vllm bench serve`'s keys plus the replay's."""
    from vllm.benchmarks import serve

    conversations = load(replay.path, replay.count)
    turns, duration = asyncio.run(_replay(conversations, replay))
    outputs = [t.output for t in turns]
    metrics, output_lens = serve.calculate_metrics(
        input_requests=[], outputs=outputs, dur_s=duration, tokenizer=None,
        selected_percentiles=replay.percentiles, goodput_config_dict=replay.goodput)
    sent_turns = (len(conversations) if replay.first_turns
                  else sum(sum(m["role"] == "user" for m in c) for c in conversations))
    finished = {t.conversation for t in turns} - {t.conversation for t in turns if not t.output.success}
    result: dict[str, Any] = {
        "duration": duration,
        "completed": metrics.completed,
        "failed": metrics.failed + (sent_turns - len(turns)),  # turns never sent count as failed
        "total_input_tokens": metrics.total_input,
        "total_output_tokens": metrics.total_output,
        "request_throughput": metrics.request_throughput,
        "request_goodput": metrics.request_goodput if replay.goodput else None,
        "output_throughput": metrics.output_throughput,
        "total_token_throughput": metrics.total_token_throughput,
        "input_lens": [o.prompt_len for o in outputs],
        "output_lens": output_lens,
        "ttfts": [o.ttft for o in outputs],
        "itls": [o.itl for o in outputs],
        "latencies": [o.latency for o in outputs],
        "start_times": [o.start_time for o in outputs],
        "generated_texts": [o.generated_text for o in outputs],
        "errors": [o.error for o in outputs],
        "max_output_tokens_per_s": metrics.max_output_tokens_per_s,
        "max_concurrent_requests": metrics.max_concurrent_requests,
        "conversations": len(conversations),
        "conversations_completed": len(finished),
        "turns": sent_turns,
        "time_to_finish_s": duration,
        "conversations_per_s": len(finished) / duration if duration else 0.0,
        "replay": replay.replay,
        "per_turn": _per_turn(turns),
    }
    for metric in ("ttft", "tpot", "itl", "e2el"):
        result[f"mean_{metric}_ms"] = getattr(metrics, f"mean_{metric}_ms")
        result[f"median_{metric}_ms"] = getattr(metrics, f"median_{metric}_ms")
        result[f"std_{metric}_ms"] = getattr(metrics, f"std_{metric}_ms")
        for p, value in getattr(metrics, f"percentiles_{metric}_ms"):
            result[f"p{int(p) if int(p) == p else p}_{metric}_ms"] = value
    return result


def _per_turn(turns: list[Turn]) -> list[dict[str, Any]]:
    """Mean TTFT, TPOT and tokens of the requests at each turn number."""
    rows = []
    for number in sorted({t.turn for t in turns}):
        ok = [t.output for t in turns if t.turn == number and t.output.success]
        tpots = [(o.latency - o.ttft) / (o.output_tokens - 1) for o in ok if o.output_tokens > 1]
        rows.append({
            "turn": number,
            "requests": sum(t.turn == number for t in turns),
            "completed": len(ok),
            "mean_ttft_ms": 1000 * sum(o.ttft for o in ok) / len(ok) if ok else None,
            "mean_tpot_ms": 1000 * sum(tpots) / len(tpots) if tpots else None,
            "mean_input_tokens": sum(o.prompt_len for o in ok) / len(ok) if ok else None,
            "mean_output_tokens": sum(o.output_tokens for o in ok) / len(ok) if ok else None,
        })
    return rows

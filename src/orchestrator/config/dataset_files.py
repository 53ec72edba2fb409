"""The user's dataset file, checked before anything starts: it exists, it is not too big, and
its records have the fields the chosen `workload.dataset` reads. A bad record is named by file
and line, so the user can open it there.

Formats (what vLLM's benchmark and the conversation replay read):
- custom: JSONL, one object per line with a non-empty "prompt" string (vLLM's CustomDataset;
  the file name must end in .jsonl);
- sharegpt: a JSON list of objects whose "conversations" list holds {"from", "value"} turns;
- conversations: JSONL, one object per line whose "messages" list holds {"role", "content"}
  turns (roles system, user, assistant) with at least one user turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_DATASET_BYTES = 256 * 1024**2  # read whole (ShareGPT is one JSON document): bounded memory
ROLES = ("system", "user", "assistant")


class DatasetFileError(ValueError):
    """The dataset file cannot serve as the dataset it is named as; the message says where."""


@dataclass(frozen=True)
class DatasetFile:
    """A checked dataset file: where it is on this machine and how many records it holds."""

    path: Path
    size: int
    records: int


def host_path(given: str) -> Path:
    """The file a `workload.dataset_path` names on this machine (relative: the current folder)."""
    return Path(given).expanduser().absolute()


def check_dataset_file(dataset: str, given: str,
                       columns: Mapping[str, str] | None = None) -> DatasetFile:
    """Check `given` as a dataset of type `dataset`; raise DatasetFileError naming the first
    problem. `columns` (column -> who reads it): fields every record of a custom dataset must
    also have."""
    path = host_path(given)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        where = "" if Path(given).is_absolute() else " (a relative path starts from the current folder)"
        raise DatasetFileError(f"{given} {what}{where}; give the path of a dataset file on this"
                               " machine")
    shown = Path(given)  # messages name the file as the user wrote it
    size = path.stat().st_size
    if size > MAX_DATASET_BYTES:
        raise DatasetFileError(f"{shown} is {size:,} bytes, above the"
                               f" {MAX_DATASET_BYTES // 1024**2} MiB a dataset may be; take a"
                               " sample of its records")
    if size == 0:
        raise DatasetFileError(f"{shown} is empty; a {dataset} dataset needs at least one record")
    if dataset == "custom" and path.suffix != ".jsonl":
        raise DatasetFileError(f"{shown}: a custom dataset is JSONL and its name must end in"
                               " .jsonl (vLLM reads no other); rename it")
    text = _text(path, shown)
    if dataset == "custom":
        records = _custom(shown, text, columns or {})
    else:
        records = {"sharegpt": _sharegpt, "conversations": _conversations}[dataset](shown, text)
    return DatasetFile(path, size, records)


def _text(path: Path, shown: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise DatasetFileError(f"{shown}:{line}: not UTF-8 text") from None
    except OSError as exc:
        raise DatasetFileError(f"{shown}: cannot be read ({exc.strerror})") from None


def _jsonl(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
        except RecursionError:
            raise DatasetFileError(f"{path}:{number}: JSON nested too deep") from None
        if not isinstance(record, dict):
            raise DatasetFileError(f"{path}:{number}: a record must be a JSON object, not"
                                   f" {type(record).__name__}")
        yield number, record


def _records(path: Path, text: str, check: Callable[[str, dict[str, Any]], None],
             what: str) -> int:
    """Check each JSONL record (`check` raises, given "file:line" and the record); count them."""
    count = 0
    for number, record in _jsonl(path, text):
        check(f"{path}:{number}", record)
        count += 1
    if not count:
        raise DatasetFileError(f"{path} holds no {what}; give one JSON object per line")
    return count


def _custom(path: Path, text: str, columns: Mapping[str, str]) -> int:
    def check(where: str, record: dict[str, Any]) -> None:
        prompt = record.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise DatasetFileError(f"{where}: no \"prompt\" string; a custom dataset has one JSON"
                                   " object with a \"prompt\" per line")
        for column, reader in columns.items():
            if column not in record:
                raise DatasetFileError(f"{where}: no {column!r}, which {reader} reads on each"
                                       " line")
    return _records(path, text, check, "prompt")


def _conversations(path: Path, text: str) -> int:
    def check(where: str, record: dict[str, Any]) -> None:
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            raise DatasetFileError(f"{where}: no \"messages\" list; each line is"
                                   " {\"messages\": [{\"role\": \"user\", \"content\": ...}, ...]}")
        for turn in messages:
            if (not isinstance(turn, dict) or turn.get("role") not in ROLES
                    or not isinstance(turn.get("content"), str)):
                raise DatasetFileError(f"{where}: a message must be {{\"role\": one of"
                                       f" {', '.join(ROLES)}, \"content\": text}}, not"
                                       f" {json.dumps(turn)[:80]}")
        if not any(turn["role"] == "user" for turn in messages):
            raise DatasetFileError(f"{where}: the conversation has no user turn; each needs at"
                                   " least one message with role user")
    return _records(path, text, check, "conversation")


def _sharegpt(path: Path, text: str) -> int:
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if not text[start:].startswith("["):
        raise DatasetFileError(f"{path}:{text.count(chr(10), 0, start) + 1}: a ShareGPT dataset"
                               " is a JSON list of records, [{\"conversations\": [...]}, ...]")
    # Decode the list one record at a time, so a bad record is named by its line.
    position, count = start + 1, 0
    while True:
        position = _skip(text, position)
        if position < len(text) and text[position] == "]":
            break
        line = text.count("\n", 0, position) + 1
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DatasetFileError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        except RecursionError:
            raise DatasetFileError(f"{path}:{line}: JSON nested too deep") from None
        turns = record.get("conversations") if isinstance(record, dict) else None
        if (not isinstance(turns, list)
                or not all(isinstance(t, dict) and isinstance(t.get("value"), str) for t in turns)):
            raise DatasetFileError(f"{path}:{line}: a ShareGPT record needs a \"conversations\""
                                   " list of {\"from\": ..., \"value\": text} turns")
        count += len(turns) >= 2  # vLLM skips records without a prompt and a reply
        position = _skip(text, position)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            raise DatasetFileError(f"{path}:{text.count(chr(10), 0, position) + 1}: expected ,"
                                   " or ] after a record")
    if not count:
        raise DatasetFileError(f"{path} has no record with a prompt and a reply (two turns)")
    return count


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


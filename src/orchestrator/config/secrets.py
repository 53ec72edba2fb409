"""Secrets are only ever references: the one rule, and how a literal secret is recognised.

A secret reaches a component by reference (a variable of the machine that runs orchestrator, a
Kubernetes Secret), never as text in the config: a value that looks like a secret, in any env
entry, flag, URL or field, is refused at validation with the fix, and no message, rendered file
or result ever shows its value.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"
# Variable and flag names that say they hold a secret.
# TOKEN counts only as the end of a word: MAX_TOKENS counts tokens, TOKENIZERS_PARALLELISM
# tunes a tokenizer and TIKTOKEN_ENCODINGS_BASE names a folder (gpt-oss's vocabulary).
_SECRET_NAME = re.compile(r"(?<!TIK)TOKEN(?![A-Z])|SECRET|PASSW(OR)?D|KEY|CREDENTIAL",
                          re.IGNORECASE)
# The shapes of well-known credentials: Hugging Face, OpenAI-style, GitHub, GitLab, Slack,
# AWS access keys, JWTs.
_TOKEN_VALUE = re.compile(
    r"(?<![A-Za-z0-9])("
    r"hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)
# user:password@ or token@ in a URL.
_URL_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*@")


def is_secret_name(name: str) -> bool:
    """Whether a variable's or flag's name says it holds a secret."""
    return bool(_SECRET_NAME.search(name))


def looks_like_token(value: str) -> bool:
    """Whether text contains something shaped like a known credential."""
    return bool(_TOKEN_VALUE.search(value))


def has_url_credentials(value: str) -> bool:
    """Whether text is a URL that carries a user name and password or a token."""
    return bool(_URL_CREDENTIALS.match(value))


def secret_text(value: str) -> bool:
    """Whether text must never be shown: a token, or a URL with credentials."""
    return looks_like_token(value) or has_url_credentials(value)


# Fields that name where a secret is, not the secret itself.
REFERENCE_FIELDS = frozenset({"from_env", "k8s_secret", "k8s_key"})
SHOWN_CHARS = 60


def shown(name: str, value: str) -> str:
    """`value` as a message may show it: REDACTED when `name` or the value says it is secret,
    and cut to SHOWN_CHARS characters."""
    if (value and is_secret_name(name) and name not in REFERENCE_FIELDS) or secret_text(value):
        return REDACTED
    return cut(value)


def cut(text: str) -> str:
    """Text cut to SHOWN_CHARS characters for a message."""
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def secret_flag(arg: str) -> str | None:
    """The flag's name when a command-line argument passes a secret (`--hf-token`, `--api-key=`)."""
    if not arg.startswith("-"):
        return None
    flag = arg.split("=", 1)[0].split(None, 1)[0]
    return flag if is_secret_name(flag) else None


SecretLiteral = tuple[tuple[str | int, ...], str]  # (where, what: "env", "url", "token" or a flag)


def find_literals(data: Any, path: tuple[str | int, ...] = ()) -> list[SecretLiteral]:
    """Every place in raw config data that holds a secret as text, with what kind it is:
    "env" (a secret-named variable given a value), the flag's name (a secret flag in an
    argument list), "url" (credentials in a URL) or "token" (a value shaped like a credential)."""
    found: list[SecretLiteral] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = (*path, key)
            if (len(path) >= 1 and path[-1] == "env" and isinstance(key, str) and is_secret_name(key)
                    and isinstance(value, str) and value):
                found.append((where, "env"))
                continue
            found += find_literals(value, where)
    elif isinstance(data, list):
        skip_value = False
        for index, item in enumerate(data):
            if skip_value:  # the value after a secret flag: reported with the flag
                skip_value = False
                continue
            flag = secret_flag(item) if isinstance(item, str) else None
            if isinstance(item, str) and flag:
                found.append(((*path, index), flag))
                skip_value = "=" not in item and " " not in item.strip()
            else:
                found += find_literals(item, (*path, index))
    elif isinstance(data, str):
        if has_url_credentials(data):
            found.append((path, "url"))
        elif looks_like_token(data):
            found.append((path, "token"))
    return found

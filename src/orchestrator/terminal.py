"""Text that reaches the terminal: user and container text is never interpreted, neither as
rich markup (`[/]` in a path) nor as terminal escape sequences (ANSI colours, OSC titles)."""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls other than tab and newline, DEL, and C1 controls (ESC starts ANSI and OSC).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    """`text` with control characters shown as escapes (\\x1b), so none reaches the terminal."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def safe(text: object) -> str:
    """`text` for a rich markup string: control characters escaped, markup brackets quoted."""
    return escape(plain(str(text)))

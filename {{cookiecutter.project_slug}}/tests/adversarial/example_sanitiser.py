"""Clean a user-chosen display name before it is stored, logged or shown: the adversarial example.

The hostile inputs it must survive are in test_example_hostile_input.py. Built on the standard
library (unicodedata, html): no maintained package does exactly this small job.
"""

from __future__ import annotations

import html
import unicodedata

MAX_DISPLAY_NAME_CHARS = 64
# Unicode categories removed: controls (NUL, CR, LF, ESC...), format characters (zero-width
# spaces and joiners, bidi overrides that reverse how text displays), unassigned and private use.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})


def sanitise_display_name(raw: str) -> str:
    """A display name safe in HTML, a log line or a terminal: at most 64 characters, then escaped.

    NFKC first, so look-alike forms (fullwidth ``U+FF1C``) become the characters they stand for
    before anything is checked. Raises ValueError when nothing printable is left.
    """
    normalised = unicodedata.normalize("NFKC", raw)
    printable = "".join(
        char for char in normalised if unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    collapsed = " ".join(printable.split())[:MAX_DISPLAY_NAME_CHARS].strip()
    if not collapsed:
        raise ValueError(f"display name has no printable characters: {raw[:40]!r}")
    return html.escape(collapsed, quote=True)

"""Example adversarial tests: hostile display names against example_sanitiser, one test each.

This tier is gated by a failure budget (testkit.budget, adversarial_budget_percent in
[tool.testkit]): a failing case is reported as BUDGETED, and the session fails only when the
share of failing cases exceeds the budget. reports/adversarial.json records each run.
"""

from __future__ import annotations

import unicodedata

import pytest
from adversarial.example_sanitiser import MAX_DISPLAY_NAME_CHARS, sanitise_display_name

HOSTILE_NAMES = {
    "script_tag": "<script>alert(document.cookie)</script>",
    "attribute_breakout": '" onmouseover="alert(1)',
    "fullwidth_angle_brackets": "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "log_forging_newline": "mallory\r\n2024-01-01 INFO admin logged in",
    "terminal_escape": "\x1b[2J\x1b[31mroot\x1b[0m",
    "bidi_override": "invoice\u202egpj.exe",
    "zero_width_impostor": "a\u200bd\u200dm\u2060i\ufeffn",
    "nul_byte": "alice\x00admin",
    "oversized": "A" * 100_000,
}


def _is_clean(name: str) -> bool:
    return not any(unicodedata.category(char).startswith("C") for char in name)


@pytest.mark.parametrize("raw", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_a_hostile_display_name_comes_out_inert(raw: str) -> None:
    cleaned = sanitise_display_name(raw)

    assert len(cleaned) <= MAX_DISPLAY_NAME_CHARS * len("&quot;")
    assert "<" not in cleaned
    assert '"' not in cleaned
    assert "\n" not in cleaned
    assert _is_clean(cleaned), f"control or format character left in {cleaned!r}"


def test_invisible_characters_cannot_make_one_name_look_like_another() -> None:
    assert sanitise_display_name(HOSTILE_NAMES["zero_width_impostor"]) == "admin"


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200b", "\x00\x07"], ids=repr)
def test_a_name_with_nothing_printable_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="no printable characters"):
        sanitise_display_name(raw)


def test_an_ordinary_name_is_kept() -> None:
    assert sanitise_display_name("  Zoë   O'Brien-Łukasz ") == "Zoë O&#x27;Brien-Łukasz"

"""HTML reduced to text for ingest: readable words in, code and markup out."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.html_text import html_to_text

PAGE = """<!doctype html>
<html><head><title>  Quokka
  facts </title><style>body { color: red }</style>
<script>var secret = "do-not-index";</script></head>
<body><h1>Quokkas</h1><p>Small&nbsp;marsupials &amp; very   friendly.</p>
<p>Found on Rottnest<br>Island.</p><noscript>enable js</noscript>
<template><p>hidden template</p></template></body></html>"""


def test_title_is_the_title_element_with_whitespace_collapsed() -> None:
    assert html_to_text(PAGE).title == "Quokka facts"


def test_text_keeps_visible_words_one_block_per_line() -> None:
    assert html_to_text(PAGE).text == (
        "Quokkas\n\nSmall marsupials & very friendly.\n\nFound on Rottnest\nIsland."
    )


def test_scripts_styles_and_templates_are_not_text() -> None:
    text = html_to_text(PAGE).text
    assert "do-not-index" not in text
    assert "color" not in text
    assert "hidden template" not in text
    assert "enable js" not in text


def test_page_without_title_has_none_and_broken_markup_still_yields_text() -> None:
    result = html_to_text("<div><p>unclosed <b>bold")
    assert result.title is None
    assert result.text == "unclosed bold"

"""The dashboard page: the panels as HTML sections, each figure drawn by plotly.js inlined once
(the page opens from disk, offline)."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from string import Template

from testkit.analytics.report_panels import Panel

# One figure: plotly draws it into its div; the config hides plotly's logo and follows the width.
PLOT_SCRIPT = Template(
    "<script>(function (figure) { Plotly.newPlot($chart, figure.data, figure.layout, "
    '{"displaylogo": false, "responsive": true}); })($figure);</script>'
)

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
section { margin-bottom: 2.5rem; }
.missing { padding: 1rem; background: #fff4e5; border-left: 4px solid #e67e22; }
.note { color: #666; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; }
.chart { width: 100%; height: 420px; }
</style>
<script>$plotly</script>
</head>
<body>
<h1>$title</h1>
<p class="note">Built $built from $sources.</p>
$sections
</body>
</html>
""")


def _table_html(rows: Sequence[Sequence[str]]) -> str:
    out = ["<table>"]
    for row in rows:
        # A row that starts a new block repeats a header: written as th cells.
        is_header = row is rows[0] or row[0] in {"quarantined test"}
        cell = "th" if is_header else "td"
        out.append("<tr>" + "".join(f"<{cell}>{html.escape(c)}</{cell}>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_page(panels: Sequence[Panel], *, sources: str, plotly_js: str) -> str:
    sections = []
    for panel in panels:
        body = [
            f'<section id="{panel.key}" data-panel="{panel.key}">',
            f"<h2>{html.escape(panel.title)}</h2>",
        ]
        if panel.missing is not None:
            body.append(f'<div class="missing">{html.escape(panel.missing)}</div>')
        else:
            if panel.note:
                body.append(f'<p class="note">{html.escape(panel.note)}</p>')
            if panel.figure is not None:
                chart_id = f"chart-{panel.key}"
                spec = json.dumps(panel.figure).replace("</", "<\\/")
                body.append(f'<div class="chart" id="{chart_id}"></div>')
                body.append(PLOT_SCRIPT.substitute(chart=json.dumps(chart_id), figure=spec))
            if panel.table:
                body.append(_table_html(panel.table))
            if panel.figure is None and not panel.table:
                body.append('<p class="note">nothing to report</p>')
        body.append("</section>")
        sections.append("\n".join(body))
    return PAGE.substitute(
        title="Test dashboard",
        built=dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sources=html.escape(sources),
        plotly=plotly_js.replace("</script", "<\\/script"),
        sections="\n".join(sections),
    )

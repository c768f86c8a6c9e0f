"""Registers the monitoring plugins a session needs; plugin.py calls `register_monitoring` once.

Both run in the controlling process only: xdist workers forward every report to it.
"""

from __future__ import annotations

import pytest

from testkit import options, report_files
from testkit.monitoring.collector import PLUGIN_NAME, MetricsCollector

OFF = "off"


def register_monitoring(config: pytest.Config, timeout_s: float | None) -> None:
    if hasattr(config, "workerinput") or config.option.collectonly:
        return
    raw_path = options.get_setting(config, options.METRICS)
    path = None if raw_path == OFF else config.rootpath / (raw_path or report_files.METRICS)
    pushgateway = options.get_setting(config, options.PUSHGATEWAY_URL)
    if (path is not None or pushgateway) and not config.pluginmanager.is_blocked(PLUGIN_NAME):
        config.pluginmanager.register(MetricsCollector(path, pushgateway, timeout_s), PLUGIN_NAME)
    if options.parse_flag(options.OTEL, options.get_setting(config, options.OTEL)):
        from testkit.monitoring.tracing import PLUGIN_NAME as OTEL_PLUGIN
        from testkit.monitoring.tracing import SpanExporter

        config.pluginmanager.register(SpanExporter(), OTEL_PLUGIN)

"""Registers the analytics plugins a session needs; plugin.py calls `register_analytics` once.

History recording (with the duration summary) runs in the controlling process only; the
quarantine plugin runs in every process, since the workers run the tests and retry them.
"""

from __future__ import annotations

import os

import pytest

from testkit import options
from testkit.analytics.durations import DurationSummary
from testkit.analytics.history import HistoryError, resolve_history_path
from testkit.analytics.quarantine import (
    DEFAULT_PATH as QUARANTINE_PATH,
)
from testkit.analytics.quarantine import (
    QuarantineError,
    QuarantinePlugin,
    load_quarantine,
)
from testkit.analytics.recorder import PLUGIN_NAME, RUN_ID_ENV, make_recorder


def register_analytics(config: pytest.Config) -> None:
    quarantine_file = config.rootpath / (
        options.get_setting(config, options.QUARANTINE) or QUARANTINE_PATH
    )
    try:
        entries = load_quarantine(quarantine_file)
    except QuarantineError as error:
        raise pytest.UsageError(str(error)) from None
    retry = config.pluginmanager.hasplugin("rerunfailures")
    config.pluginmanager.register(QuarantinePlugin(entries, retry=retry), "testkit-quarantine")

    if hasattr(config, "workerinput") or config.pluginmanager.is_blocked(PLUGIN_NAME):
        return
    if config.option.collectonly:
        return  # nothing runs, so nothing to record (IDEs collect all the time)
    path = resolve_history_path(options.get_setting(config, options.HISTORY), config.rootpath)
    if path is None:
        return
    try:
        recorder = make_recorder(config, path, os.environ.get(RUN_ID_ENV) or None)
    except HistoryError as error:
        raise pytest.UsageError(str(error)) from None
    config.pluginmanager.register(recorder, PLUGIN_NAME)
    config.pluginmanager.register(DurationSummary(recorder), "testkit-durations")

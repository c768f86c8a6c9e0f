"""Impact selection and recording in a pytest run: `register_impact` registers the recorder
(impact_record) or the selector (impact_changed / impact_base) the settings ask for."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit import options
from testkit.analytics.changes import Change, ChangeError, change_from_files, change_from_git
from testkit.analytics.recorder import note_selection
from testkit.impact.map import DEFAULT_MAP
from testkit.impact.rules import load_rules
from testkit.impact.selection import Selection, format_selection, selection_for
from testkit.project_settings import ProjectSettingsError, read_project_settings


class ImpactSelector:
    """Deselects what the selection leaves out (pytest_deselected) and says why."""

    def __init__(self, change: Change, selection: Selection) -> None:
        self._change = change
        self._selection = selection
        self._line: str | None = None
        self._skipped_files = selection.files_to_skip()
        self._skipped_tests = sum(
            nodeid.partition("::")[0] in self._skipped_files for nodeid in selection.known_tests
        )

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        """Not even import a test file none of whose tests is selected."""
        if collection_path.suffix != ".py" or not collection_path.is_relative_to(config.rootpath):
            return None
        relative = collection_path.relative_to(config.rootpath).as_posix()
        return True if relative in self._skipped_files else None

    def pytest_report_header(self) -> str:
        what = "everything" if self._selection.run_all else "affected tests only"
        return f"testkit impact ({self._change.source}): {what}: " + "; ".join(
            self._selection.reasons
        )

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        selected_ids, _, unknown = self._selection.split(item.nodeid for item in items)
        keep = set(selected_ids)
        deselected = [item for item in items if item.nodeid not in keep]
        self._line = format_selection(
            self._selection,
            total=len(items) + self._skipped_tests,  # the skipped files' tests, uncollected
            selected=len(keep),
            unknown=unknown,
        )
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if item.nodeid in keep]

    def pytest_report_collectionfinish(self) -> str | None:
        return self._line


def map_path(config: pytest.Config) -> Path:
    raw = options.get_setting(config, options.IMPACT_MAP) or DEFAULT_MAP
    return config.rootpath / raw


def impact_sources(root: Path) -> list[str]:
    """[tool.testkit] impact_sources: globs of the roots to measure (default: every package's
    src and tests, every service's src, tests/)."""
    try:
        return list(read_project_settings(root / "pyproject.toml").globs("impact_sources"))
    except ProjectSettingsError as error:
        raise pytest.UsageError(str(error)) from None


def register_impact(config: pytest.Config) -> None:
    """Register the recorder (impact_record=1) or the selector (impact_changed / impact_base);
    nothing when neither is asked for."""
    record = options.parse_flag(
        options.IMPACT_RECORD, options.get_setting(config, options.IMPACT_RECORD)
    )
    changed = options.get_setting(config, options.IMPACT_CHANGED)
    base = options.get_setting(config, options.IMPACT_BASE)
    if record and (changed or base):
        raise pytest.UsageError(
            f"{options.IMPACT_RECORD.flag} records the map of the whole suite; it cannot be "
            f"combined with {options.IMPACT_CHANGED.flag} or {options.IMPACT_BASE.flag}"
        )
    if changed and base:
        raise pytest.UsageError(
            f"give either {options.IMPACT_CHANGED.flag} (CHANGED_FILES) or "
            f"{options.IMPACT_BASE.flag} (BASE), not both"
        )
    root = config.rootpath
    if record:
        try:
            from testkit.impact.recorder import ImpactRecorder
        except ImportError as error:
            raise pytest.UsageError(
                f"{options.IMPACT_RECORD.flag} needs coverage.py (testkit[impact]): {error}"
            ) from error
        recorder = ImpactRecorder(
            config,
            data_dir=root / ".testkit" / "impact-data",
            map_path=map_path(config),
            sources=impact_sources(root),
        )
        config.pluginmanager.register(recorder, "testkit-impact-recorder")
        return
    if not (changed or base):
        return
    try:
        change = change_from_files(changed, root) if changed else change_from_git(str(base), root)
        rules = load_rules(root, config.getini("python_files"))
    except (ChangeError, ValueError) as error:
        flag = options.IMPACT_CHANGED.flag if changed else options.IMPACT_BASE.flag
        raise pytest.UsageError(f"{flag}: {error}") from error
    selection = selection_for(change, map_path(config), root, rules)
    config.pluginmanager.register(ImpactSelector(change, selection), "testkit-impact-selector")
    # The run's history entry says the tests were chosen by impact, and from what.
    scope = "all" if selection.run_all else "affected"
    note_selection(config, f"impact({change.source}: {scope})")

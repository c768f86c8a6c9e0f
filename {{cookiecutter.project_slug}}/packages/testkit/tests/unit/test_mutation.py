"""The mutation gate's pure parts: which functions a diff touches (named as mutmut names
them), reading mutmut's results and diffs, placing a mutant on its file line, the verdict,
the workspace's [tool.mutmut] table, and the gate row."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from testkit import gates
from testkit.analytics.history import open_history
from testkit.analytics.report_trends import mutation_panel
from testkit.gates import Verdict
from testkit.mutation.command import mutants_of
from testkit.mutation.history import record_score, score_series
from testkit.mutation.mutants import line_change, parse_results, parse_shown
from testkit.mutation.scope import function_spans, module_of, scope_of
from testkit.mutation.verdict import Mutant, judge
from testkit.mutation.workspace import MutmutConfig

SOURCE = '''"""A module."""

LIMIT = 3


def plain(x: int) -> int:
    return x + 1


# Explains the decorated one.
@staticmethod
def decorated(x: int) -> int:
    return x * 2


class Window:
    size = 4

    async def grow(self, by: int) -> int:
        if by < 0:
            raise ValueError(by)
        return self.size + by
'''
ROOTS = ("services/api/src",)
PATH = "services/api/src/pkg/window.py"

# `mutmut show` for a mutant of Window.grow (the function's first line is line 1 of its diff).
SHOWN = """# pkg.window.xǁWindowǁgrow__mutmut_1: survived
--- src/pkg/window.py
+++ src/pkg/window.py
@@ -1,5 +1,5 @@
 async def grow(self, by: int) -> int:
-    if by < 0:
+    if by <= 0:
         raise ValueError(by)
     return self.size + by
# pkg.window.xǁWindowǁgrow__mutmut_2: killed
--- src/pkg/window.py
+++ src/pkg/window.py
@@ -2,4 +2,4 @@
     if by < 0:
         raise ValueError(by)
-    return self.size + by
+    return self.size - by
"""


def mutant(status: str, line: int = 7) -> Mutant:
    return Mutant(f"pkg.m.x_f__mutmut_{line}", status, "src/pkg/m.py", line, "a + 1", "a - 1")


def test_functions_and_methods_are_named_as_mutmut_names_them() -> None:
    spans = {span.name: (span.first, span.last) for span in function_spans(SOURCE)}

    # The comment and the decorator above a function are part of it, as in mutmut's diffs.
    assert spans == {"x_plain": (6, 7), "x_decorated": (10, 13), "xǁWindowǁgrow": (19, 22)}


def test_a_package_init_is_the_package_module() -> None:
    assert module_of("services/api/src/pkg/sub/__init__.py", "services/api/src") == "pkg.sub"
    assert module_of(PATH, "services/api/src") == "pkg.window"


def test_the_scope_holds_the_changed_functions_and_counts_code_outside_them() -> None:
    changed = {PATH: (2, 3, 7, 20), "tests/test_window.py": (1,), "README.md": (4,)}

    scope = scope_of(changed, {PATH: SOURCE}, ROOTS)

    assert [(t.module, t.function.name, t.changed) for t in scope.targets] == [
        ("pkg.window", "x_plain", (7,)),
        ("pkg.window", "xǁWindowǁgrow", (20,)),
    ]
    assert scope.targets[1].prefix == "pkg.window.xǁWindowǁgrow__mutmut_"
    # Line 3 (a constant) is code outside every function; line 2 is blank. Tests and other
    # files are never mutated.
    assert scope.outside == {PATH: (3,)}
    assert scope.files == (PATH,)


def test_results_and_shown_diffs_are_read_per_mutant() -> None:
    results = "    pkg.m.x_f__mutmut_1: killed\n    pkg.m.x_f__mutmut_2: no tests\nnoise\n"

    assert parse_results(results) == {
        "pkg.m.x_f__mutmut_1": "killed",
        "pkg.m.x_f__mutmut_2": "no tests",
    }
    diffs = parse_shown(SHOWN)
    assert set(diffs) == {
        "pkg.window.xǁWindowǁgrow__mutmut_1",
        "pkg.window.xǁWindowǁgrow__mutmut_2",
    }
    first = line_change(diffs["pkg.window.xǁWindowǁgrow__mutmut_1"])
    second = line_change(diffs["pkg.window.xǁWindowǁgrow__mutmut_2"])
    assert first is not None
    assert (first.offset, first.original, first.mutated) == (
        2,
        "if by < 0:",
        "if by <= 0:",
    )
    assert second is not None
    assert second.offset == 4
    assert line_change("") is None


def test_each_mutant_lands_on_its_file_line_and_only_changed_lines_count() -> None:
    scope = scope_of({PATH: (20,)}, {PATH: SOURCE}, ROOTS)
    statuses = {
        "pkg.window.xǁWindowǁgrow__mutmut_1": "survived",
        "pkg.window.xǁWindowǁgrow__mutmut_2": "killed",
    }
    diffs = parse_shown(SHOWN)

    on_changed = mutants_of(scope, statuses, diffs, changed_only=True)
    every = mutants_of(scope, statuses, diffs, changed_only=False)

    assert [(m.place, m.original, m.status) for m in on_changed] == [
        (f"{PATH}:20", "if by < 0:", "survived")
    ]
    assert [m.line for m in every] == [20, 22]
    assert SOURCE.splitlines()[22 - 1].strip() == "return self.size + by"


def test_the_score_is_judged_against_the_threshold_inclusively() -> None:
    four_of_five = [mutant("killed", n) for n in range(4)] + [mutant("survived", 9)]

    assert judge(four_of_five, 80).passed
    failed = judge(four_of_five, 81)
    assert not failed.passed
    assert failed.score == 80.0
    assert [m.line for m in failed.survivors] == [9]


def test_timeouts_and_type_errors_count_as_killed_and_no_tests_as_surviving() -> None:
    verdict = judge([mutant("timeout"), mutant("caught by type check"), mutant("no tests")], 50)

    assert verdict.killed == 2
    assert verdict.passed


def test_nothing_to_mutate_passes_saying_so_and_an_unfinished_run_fails() -> None:
    empty = judge([], 80, nothing_to_mutate="nothing to mutate: no changed function")
    unfinished = judge([mutant("killed"), mutant("not checked")], 0)

    assert empty.passed
    assert empty.score is None
    assert "no changed function" in empty.reason
    assert not unfinished.passed
    assert "not run to the end (not checked)" in unfinished.reason


def test_the_workspace_table_is_toml_mutmut_reads() -> None:
    config = MutmutConfig({"pkg": "services/api/src/pkg"}, (PATH,), ("tests/unit",), ("tests",))

    table = tomllib.loads(config.table())["tool"]["mutmut"]

    assert table["source_paths"] == ["src/pkg"]
    assert table["only_mutate"] == ["src/pkg/window.py"]
    assert table["pytest_add_cli_args_test_selection"] == ["tests/unit"]
    assert {"no:xdist", "no:randomly"} <= set(table["pytest_add_cli_args"])
    with pytest.raises(ValueError, match="not in a package to mutate: pkg"):
        config.workspace_path("tests/test_window.py")


def report(tmp_path: Path, **data: object) -> Path:
    path = tmp_path / "mutation.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_gate_row_names_the_score_the_threshold_and_the_survivors(tmp_path: Path) -> None:
    survivor = {"path": "src/pkg/m.py", "line": 7}
    failing = report(
        tmp_path,
        verdict="FAIL",
        score_percent=50.0,
        threshold_percent=80,
        killed=1,
        total=2,
        base="HEAD~1",
        survivors=[survivor],
        reason="",
    )

    row = gates.mutation_gate(failing)

    assert (row.verdict, row.measured, row.limit) == (Verdict.FAIL, "50.0%", ">= 80% killed")
    assert "1/2 killed vs HEAD~1" in row.detail
    assert "src/pkg/m.py:7" in row.detail


def test_the_gate_passes_on_nothing_to_mutate_and_refuses_an_unknown_verdict(
    tmp_path: Path,
) -> None:
    nothing = gates.mutation_gate(
        report(
            tmp_path,
            verdict="PASS",
            score_percent=None,
            threshold_percent=80,
            reason="nothing to mutate",
        )
    )
    odd = gates.mutation_gate(report(tmp_path, verdict="MAYBE", threshold_percent=80))

    assert (nothing.verdict, nothing.measured) == (Verdict.PASS, "nothing scored")
    assert odd.verdict is Verdict.FAIL
    assert "'verdict' must be PASS or FAIL" in odd.detail


def test_scores_are_recorded_in_the_history_and_drawn_on_the_dashboard(tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    three_of_four = judge([mutant("killed", n) for n in range(3)] + [mutant("survived")], 80)

    record_score(history, three_of_four, scope="all", root=tmp_path)
    record_score(history, judge([], 80), scope="all", root=tmp_path)  # nothing scored: no row
    store = open_history(history, create=False)
    try:
        points = score_series(store)
        assert score_series(store, scope="changed") == ()
    finally:
        store.close()

    assert [(p.label, p.value) for p in points] == [("(no git)", 75.0)]
    panel = mutation_panel(points)
    assert panel.figure is not None
    assert panel.figure["data"][0]["y"] == [75.0]
    assert "make mutation-score" in mutation_panel(()).missing
    with pytest.raises(ValueError, match="scope must be one of all, changed"):
        record_score(history, three_of_four, scope="nightly", root=tmp_path)

"""Impact selection: which tests a change can affect.

- `map`: the impact map (which tests executed which function, read which data file), on disk;
- `recorder` (with `file_reads`) records it in a pytest run, `build` turns the record into a map;
- `rules` (always-run, ignored, test files) and `selection` decide what a change runs;
- `plugin` applies the decision in pytest, `cli` is `testkit impact build|show|select`;
- `source_outline`: the functions of a Python file and their AST digests.
"""

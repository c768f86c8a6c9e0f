"""The mutation gate: mutmut mutates the lines a change touched, and the tests must notice.

scope (which functions a diff touches, named as mutmut names them), workspace (the directory
mutmut runs in), mutants (reading mutmut's results and diffs), verdict (the score against the
threshold), history (nightly scores over time) and command (`testkit mutation`).
"""

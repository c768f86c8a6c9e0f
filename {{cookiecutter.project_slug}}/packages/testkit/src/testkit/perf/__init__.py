"""The perf tier: load profiles, exact latency figures, baselines, the gate and A/B runs.

One module per concern: ``profiles`` (what load), ``figures`` (exact percentiles from every
request's latency), ``recorder`` (the locust listener collecting those latencies), ``gate`` and
``stats`` (pure decisions), ``calibration`` (is this the baseline's machine, as busy?),
``target`` and ``service`` (the services under load), ``runner`` (locust), ``rounds`` (rounds
and A/B pairs), ``worktree`` (the base revision), ``summary`` (the files), ``render`` (what is
printed), ``request`` (a command's arguments, checked once), ``commands`` (what each command
does) and ``cli`` (`testkit perf ...`).
"""

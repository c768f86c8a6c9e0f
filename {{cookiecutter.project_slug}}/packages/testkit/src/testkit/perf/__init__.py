"""The perf tier: load profiles, exact latency figures, baselines, the gate and A/B runs.

One module per concern: ``profiles`` (what load), ``figures`` (exact percentiles from every
request's latency), ``recorder`` (the locust listener collecting those latencies), ``gate`` and
``stats`` (pure decisions), ``target`` (the service under load), ``runner`` (locust rounds),
``ab`` (base vs candidate), ``cli`` (`testkit perf ...`).
"""

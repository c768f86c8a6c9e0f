"""Data functions: one module per table, keyword-only arguments, no commits.

Callers (the routers) own the transaction: they commit, then run side effects that
must see committed data, such as search cache invalidation.
"""

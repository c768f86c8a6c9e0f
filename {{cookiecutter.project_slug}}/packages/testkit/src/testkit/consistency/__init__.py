"""The infrastructure tier's checks: the repository's own configuration agrees with itself.

Each module reads one kind of file (compose, workflows, docs) into frozen values and compares
them with what the code says, returning one-line problems; tests/infrastructure/ calls them on
the real files, and testkit's unit tests prove each comparison bites.
"""

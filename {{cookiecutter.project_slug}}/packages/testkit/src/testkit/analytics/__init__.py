"""Test analytics: run history, duration regressions, flakiness, quarantine, replay, impact."""

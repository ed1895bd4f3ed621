"""Scoring applications that are not in the warehouse: their contract check, features and decision log."""


class DecisionLogBusy(RuntimeError):
    """Another process appends to the day's decision log: two services on one data directory."""

"""Errors shared across modules."""


class ConfigError(Exception):
    """A configuration problem, reported to the operator as one readable line."""

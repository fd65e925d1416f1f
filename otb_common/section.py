"""Strict reading of one YAML mapping, shared by the core and the collectors' plug-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from otb_common.durations import parse_duration
from otb_common.errors import ConfigError


class Section:
    """Strict reader of one YAML mapping: unknown keys and wrong types are errors."""

    def __init__(self, data: object, where: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
        self._data: dict[str, Any] = data
        self._where = where
        self._seen: set[str] = set()

    @property
    def where(self) -> str:
        """Dotted path of this mapping in the file (``collectors.libvirt``), for messages."""
        return self._where

    def _get(self, key: str) -> Any:
        self._seen.add(key)
        return self._data.get(key)

    def value(self, key: str) -> Any:
        """The raw value (None when absent), for types the reader has no method for."""
        return self._get(key)

    def section(self, key: str) -> Section:
        return Section(self._get(key), self.path(key))

    def sections(self, key: str) -> list[Section]:
        """A list of mappings (several clouds, say); absent means empty."""
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(f"{self.path(key)}: expected a list, got {type(value).__name__}")
        return [Section(item, f"{self.path(key)}[{i}]") for i, item in enumerate(value)]

    def string(self, key: str, default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.path(key)}: expected a non-empty string")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{self.path(key)}: expected true or false")
        return value

    def duration(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        try:
            seconds = parse_duration(str(value))
        except ValueError as exc:
            raise ConfigError(f"{self.path(key)}: {exc}") from None
        if seconds <= 0:
            raise ConfigError(f"{self.path(key)}: must be greater than zero")
        return seconds

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise ConfigError(f"{self.path(str(unknown[0]))}: unknown key")

    def path(self, key: str) -> str:
        """Dotted path of one key, as error messages name it."""
        return f"{self._where}.{key}" if self._where else key


def load_config_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config.file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"--config.file {path}:{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config.file {path}: expected a mapping at the top level")
    return data

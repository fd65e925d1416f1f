"""Reading an exposition back into samples, for assertions by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]
Samples = dict[Key, float]


def parse_samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    """The value of one series; KeyError (with the key) when it is absent."""
    return samples[(name, frozenset(labels.items()))]

"""Collectors: small classes handed their clients, yielding fresh metric families per cycle."""

"""The gnocchi collector: the latest Gnocchi measures and Gnocchi's backlog."""

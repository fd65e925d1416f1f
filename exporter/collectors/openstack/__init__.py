"""The central OpenStack collector: API health, service and agent states, inventory."""

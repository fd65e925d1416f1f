"""Benchmarks: scrape latency, cycle time, CPU and memory of the exporter against a peer."""

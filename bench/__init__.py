"""Benchmarks: quality against labels and speed, side by side with BERTopic, on ../shared/data."""

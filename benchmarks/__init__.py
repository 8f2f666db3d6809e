"""Benchmark runners: each writes JSON and a Markdown table, with its peers measured in the same run."""

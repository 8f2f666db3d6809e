"""The ``mobility`` API family of the schema (only ``v1`` so far); the command line is the top-level ``mobility``."""

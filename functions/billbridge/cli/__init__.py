"""The `billbridge` command line: local stack, replay, billing runs and operations."""

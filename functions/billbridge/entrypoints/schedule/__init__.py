"""The scheduled start of the monthly billing run."""

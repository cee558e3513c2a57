"""What is measured, not asserted: throughput of the billing core."""

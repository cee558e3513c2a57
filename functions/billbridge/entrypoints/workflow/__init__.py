"""Lambda tasks of the billing run state machine: input in, the next state out."""

"""Training runs: the trainer thread, the one run builder, equal-budget configs and the comparison lab."""

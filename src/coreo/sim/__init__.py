"""The simulated company: a seeded generator of a whole customer base with ground truth."""

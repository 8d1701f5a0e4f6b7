"""Identity resolution: the identity graph, merge rules and probabilistic matching."""

"""Plain data and clinical rules, with no I/O and no Qt."""

"""Controllers found by autotts itself, kept as named built-ins with their provenance."""

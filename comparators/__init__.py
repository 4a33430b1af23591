"""comparators package."""

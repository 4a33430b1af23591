"""phases package."""

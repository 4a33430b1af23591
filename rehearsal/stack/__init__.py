"""rehearsal/stack package."""

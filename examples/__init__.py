"""Second systems migrated by cutover through its public surface only (``examples/<name>``)."""

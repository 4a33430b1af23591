"""Pieces every cutover package shares: the error base class, secret redaction, logging setup."""

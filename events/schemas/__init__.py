"""Packaged JSON Schemas, one file per type and version: ``<type>.v<version>.json``."""

"""The downstream services of the sample monolith, each a separate Flask app with its own tables."""

"""The HTTP JSON API for a store's own site (routes.py), mounted at /api by the web shell."""

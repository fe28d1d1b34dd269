"""Retrieval: index build/load/verify, keyword + dense search, ranking and explanations."""

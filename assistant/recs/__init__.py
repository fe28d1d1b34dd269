"""Recommendations: the shopper history store and the recommender that reads it."""

"""Turning personal fields into generalized, publishable ones."""

"""Parcours: Quebec's personalized integration pathway for newcomers, on Temporal."""

__version__ = "0.1.0"

"""Alembic migrations of the read model (see parcours/store/migrate.py)."""

"""Alembic migrations of the read model (see parcours/infrastructure/store/migrate.py)."""

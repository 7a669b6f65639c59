"""The bare Temporal baseline: a no-op workflow of the pathway's shape (same activities,
timers and updates, no database, no SMTP), run by its own worker process."""

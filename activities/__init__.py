"""Activities: every side effect of the pathway (read model, audit trail, email)."""

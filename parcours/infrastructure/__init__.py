"""infrastructure layer (see README "Architecture")."""

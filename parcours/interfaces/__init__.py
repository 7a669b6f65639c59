"""interfaces layer (see README "Architecture")."""

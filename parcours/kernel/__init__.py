"""kernel layer (see README "Architecture")."""

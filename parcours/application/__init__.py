"""application layer (see README "Architecture")."""

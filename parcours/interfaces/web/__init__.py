"""The web console (officers, supervisors, directors) and the operators' intake API."""

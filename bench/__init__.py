"""Parcours at program scale: a harness that starts its own dev server, SMTP catcher and
workers, runs the scenarios of issue 5 against the product and against a bare Temporal
baseline of the same shape, and writes one table (`python -m bench`)."""

"""Email: rendering (Jinja2 templates), sending (aiosmtplib) and a local catcher (aiosmtpd)."""

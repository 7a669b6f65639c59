"""`python worker.py`: run a Parcours worker (the same as `parcours worker`).

Configured by the environment: PARCOURS_TEMPORAL_ADDRESS, PARCOURS_DATABASE_URL,
PARCOURS_SMTP_HOST/PARCOURS_SMTP_PORT, PARCOURS_POLICY, PARCOURS_WORKER_CACHE.
"""

from parcours.infrastructure.worker import main

if __name__ == "__main__":
    main()

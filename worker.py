"""`python worker.py`: run a Parcours worker (the same as `parcours worker`).

Configured by the environment: the PARCOURS_* variables of the README's "Configuration"
table (parcours/infrastructure/config.py reads them all).
"""

from parcours.infrastructure.worker import main

if __name__ == "__main__":
    main()

# The Parcours application image: worker, web console, codec server and the CLI.
# Build: docker build -t parcours .   (docker-compose.yml builds it as `parcours:local`)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PARCOURS_DATA_DIR=/var/lib/parcours

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY parcours/__init__.py parcours/__init__.py
RUN pip install --no-compile . && pip uninstall -y parcours
COPY parcours ./parcours
COPY workflows ./workflows
COPY activities ./activities
COPY templates ./templates
COPY worker.py ./
# Editable: Settings finds templates/ next to the code (REPO_ROOT).
# Bytecode for our modules, which PYTHONDONTWRITEBYTECODE would never write: the workflow
# sandbox re-imports workflows/ for every new case, and compiling it each time cost the worker
# a quarter of its CPU (README, Performance).
RUN python -m compileall -q parcours workflows activities \
    && pip install --no-deps -e . \
    && useradd --system --uid 10001 --home /var/lib/parcours parcours \
    && mkdir -p /var/lib/parcours && chown parcours /var/lib/parcours
USER parcours
CMD ["parcours", "worker"]

# syntax=docker/dockerfile:1
# PM Bot container image: `docker build -t pmbot .`, then `docker run --env-file .env -p 3000:3000 pmbot`
# (or `docker compose up -d`, see compose.yaml).
#
# It installs PM Bot exactly as tests/deploy/test_wheel_install.py does: a wheel built with
# `pip wheel --no-deps`, installed with pip into a clean Python, run as `pmbot run` (which migrates
# the database first). tests/deploy/test_deploy_files.py keeps this file to that path.

ARG PYTHON_VERSION=3.11

# ---- build: the wheel (pure Python; setuptools comes in pip's isolated build environment) ----
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN pip wheel --no-deps --no-cache-dir --wheel-dir /dist .

# ---- run: the wheel and its dependencies (all published as binary wheels), nothing else ----
FROM python:${PYTHON_VERSION}-slim
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    pip install --no-cache-dir --disable-pip-version-check /dist/pmbot-*.whl \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home pmbot
# The working directory holds the SQLite file of the default DATABASE_URL (sqlite:///pmbot.db):
# mount a volume on /data, or point DATABASE_URL at PostgreSQL.
WORKDIR /data
VOLUME ["/data"]
USER pmbot
ENV PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000
# Liveness only: the process answers. Orchestrators that route traffic should probe /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
CMD ["pmbot", "run"]

# Posko — one process, SQLite on a volume, non-root, health checked.
# The command room's page is built from web/ (npm ci + esbuild) in its own stage.
FROM node:20-slim AS web
WORKDIR /src
COPY web/package.json web/package-lock.json ./web/
RUN cd web && npm ci --no-audit --no-fund
COPY web ./web
RUN mkdir -p bot/web/static && cd web && node build.mjs

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY --from=web /src/bot/web/static/app.js /src/bot/web/static/app.css ./bot/web/static/
RUN pip install . && useradd --system --uid 10001 --home /data posko \
    && mkdir -p /data /etc/posko && chown posko /data
COPY config.example.toml /etc/posko/config.toml

USER posko
VOLUME ["/data"]
# The token: docker run -e POSKO_TELEGRAM__TOKEN=… or a secret file via telegram.token_file.
ENV POSKO_STORAGE__PATH=/data/posko.db \
    POSKO_HTTP__PORT=9090 \
    POSKO_HTTP__LISTEN=0.0.0.0 \
    POSKO_LOG__FORMAT=json
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["posko"]
CMD ["run", "--config", "/etc/posko/config.toml"]

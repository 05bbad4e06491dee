# Build: install with npm (which brings Bun), compile one self-contained binary.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Run: only the binary, as a non-root user, data in a volume.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data switchboard \
    && mkdir -p /data && chown switchboard /data
COPY --from=build /src/dist/switchboard /usr/local/bin/switchboard
USER switchboard
ENV SWITCHBOARD_HOST=0.0.0.0 SWITCHBOARD_PORT=8080 SWITCHBOARD_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# One image for the supervisor, the agents and the Chroma server (different commands).
#
# Online:   docker build -t switchboard:dev .
# Offline:  make images-offline   (debootstrapped base image + host wheelhouse,
#           docker build --network none --build-arg BASE_IMAGE=... --build-arg WHEELHOUSE=...)
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
# A folder inside the build context; with *.whl files in it pip never touches an index.
ARG WHEELHOUSE=deploy/docker/no-wheelhouse
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY ${WHEELHOUSE}/ /wheelhouse/
COPY pyproject.toml README.md ./
COPY shared/ shared/
COPY supervisor/ supervisor/
COPY agents/runtime/ agents/runtime/
COPY tools/ tools/
RUN set -eux; \
    python3 -m venv /opt/venv; \
    if ls /wheelhouse/*.whl >/dev/null 2>&1; then \
        PIP_ARGS="--no-index --find-links /wheelhouse"; \
    else \
        PIP_ARGS=""; \
    fi; \
    /opt/venv/bin/pip install $PIP_ARGS /src; \
    # Nothing is compiled or downloaded at run time: bytecode is built now (the root
    # filesystem is read-only at run time) and the installer is dropped.
    /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib; \
    /opt/venv/bin/pip uninstall -y pip; \
    /opt/venv/bin/switchboard --help >/dev/null

# ---------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
ARG UID=10001
LABEL org.opencontainers.image.title="switchboard" \
      org.opencontainers.image.description="Switchboard supervisor, domain agents and Chroma server" \
      org.opencontainers.image.licenses="Apache-2.0"
# No compilers, no package manager caches: only the venv and the agents' domain files.
COPY --from=build /opt/venv /opt/venv
COPY agents/billing/ /app/agents/billing/
COPY agents/support/ /app/agents/support/
COPY agents/account/ /app/agents/account/
COPY deploy/compose/agents.yaml /app/agents.yaml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    SWITCHBOARD_DATA_DIR=/data \
    SWITCHBOARD_HEALTH_ADDRESS=127.0.0.1:50051
RUN mkdir -p /data && chown ${UID}:${UID} /data
WORKDIR /app
# Numeric, so runAsNonRoot can verify it without reading /etc/passwd.
USER ${UID}:${UID}
EXPOSE 50051 50061
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "exec switchboard health --address \"$SWITCHBOARD_HEALTH_ADDRESS\""]
ENTRYPOINT ["switchboard"]
CMD ["supervisor", "--agents", "/app/agents.yaml", "--host", "0.0.0.0", "--port", "50051"]

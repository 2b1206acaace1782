# The contact-centre KPI stream processor: one image for every `python -m stream` command
# (worker, simulate, wallboard, replay). docker-compose.yml runs it; see deploy/README.md.
FROM python:3.11-slim AS build
WORKDIR /src
# uv pinned with hashes, then exactly uv.lock: the image runs the versions the tests ran.
COPY tools/uv.txt tools/
RUN pip install --no-cache-dir --require-hashes -r tools/uv.txt
COPY pyproject.toml uv.lock README.md ./
COPY stream ./stream
# No dev group; the rocksdb extra is rocksdict, the RocksDB table store (STREAM_STORE=rocksdb://)
# that production workers use. No demo extra: the embedded broker and Redis (stream/dev/, for
# `demo` and `broker`) are not in the image; it runs against Apache Kafka and Redis. The
# simulator (stream/dev/simulate/, `simulate` and `replay`) needs no extra and runs here.
ENV UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1
RUN uv sync --locked --no-dev --extra rocksdb --no-editable --no-cache

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/stream --create-home stream \
    && install -d -o stream /var/lib/stream/data
COPY --from=build /opt/venv /opt/venv
COPY deploy/targets.example.yaml /etc/stream/targets.yaml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STREAM_WEB_HOST=0.0.0.0 \
    STREAM_WEB_PORT=6066 \
    STREAM_DATA_DIR=/var/lib/stream/data \
    STREAM_STORE=rocksdb:// \
    STREAM_TARGETS_FILE=/etc/stream/targets.yaml
USER stream
WORKDIR /var/lib/stream
EXPOSE 6066 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/metrics', timeout=4)"
ENTRYPOINT ["python", "-m", "stream"]
CMD ["worker"]

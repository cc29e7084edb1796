# dlserve: one image for the API (`dlserve serve`) and the workers (`dlserve worker`).
FROM python:3.11-slim

# ffmpeg merges separate video and audio streams for the media API.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 dlserve
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && mkdir -p /data && chown dlserve /data

USER dlserve
ENV DLSERVE_DATA_DIR=/data \
    DLSERVE_HOST=0.0.0.0 \
    DLSERVE_PORT=8000 \
    DLSERVE_LOG_JSON=true
EXPOSE 8000
CMD ["dlserve", "serve"]

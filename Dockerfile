# The cutover image: the toolkit, the sample monolith and its shadow workers.
# docker-compose.yml builds it as cutover:local; the legacy services run it with
# `entrypoint: [gunicorn]`, everything else through the `cutover` command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CUTOVER_STATE_DIR=/app/.cutover

RUN groupadd --system --gid 10001 cutover \
 && useradd --system --uid 10001 --gid cutover --home-dir /app --no-create-home cutover

WORKDIR /app

# Dependencies first (their layer survives source edits): the exact pins of pyproject.toml.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --requirement /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
 && mkdir -p /app/.cutover /app/reports \
 && chown -R cutover:cutover /app/.cutover /app/reports

USER cutover

ENTRYPOINT ["cutover"]
CMD ["--help"]

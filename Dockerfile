# The product's one image: `complaints serve` (the API) and `complaints project` (the worker).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && useradd --system --uid 10001 --home-dir /app complaints

USER complaints
EXPOSE 8000
CMD ["complaints", "serve", "--host", "0.0.0.0", "--port", "8000"]

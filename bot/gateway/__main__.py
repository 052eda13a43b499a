"""`python -m bot.gateway`: serve the gateway with the settings from the environment."""

from __future__ import annotations

import uvicorn

from bot.gateway.app import create_app
from bot.settings import Settings
from bot.staff.nlp import full_pipeline
from bot.staff.redact import install_log_redaction

WS_MAX_FRAME_BYTES = 1024 * 1024


def main() -> None:
    settings = Settings()
    # Log lines may quote what shoppers typed: names, e-mail addresses, order numbers.
    install_log_redaction(lambda: full_pipeline(settings.faq_spacy_model, purpose="logs"))
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        # Behind a reverse proxy, the shopper's IP (for the rate limits) comes from
        # X-Forwarded-For, trusted only from these addresses.
        proxy_headers=True,
        forwarded_allow_ips=settings.gateway_forwarded_allow_ips,
        # Frames up to this size get a `too_large` answer from the gateway on a socket that
        # stays open (the cap on a message is GATEWAY_MAX_MESSAGE_BYTES); beyond it the
        # WebSocket layer closes with 1009 before the gateway sees the frame.
        ws_max_size=WS_MAX_FRAME_BYTES,
        log_level="info",
    )


if __name__ == "__main__":
    main()

"""`python -m bot.action_server --actions actions --port 5055`: rasa-sdk's action server
(same arguments) with every log line redacted, in its main process and in each Sanic
worker: the actions log shoppers' questions, and those may hold names and addresses.

rasa-sdk 3.21's own `run()` builds the app in every worker through a pickled factory; this
one wraps that factory so each worker installs the redaction before it logs anything.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any


def redact_logs() -> None:
    """Redact this process's log records (names through a spaCy pipeline of its own, so
    logging never shares one with the actions' threads)."""
    from bot.settings import get_settings
    from bot.staff.nlp import full_pipeline
    from bot.staff.redact import install_log_redaction

    model = get_settings().faq_spacy_model
    install_log_redaction(lambda: full_pipeline(model, purpose="logs"))


def _app_in_worker(action_executor: Any, **kwargs: Any) -> Any:
    redact_logs()
    from rasa_sdk.endpoint import create_app_for_serve

    return create_app_for_serve(action_executor, **kwargs)


def main(argv: list[str] | None = None) -> None:
    redact_logs()
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser
    from rasa_sdk.executor import ActionExecutor
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    args = create_argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions_module or args.actions)
    loader = AppLoader(
        factory=partial(
            _app_in_worker,
            executor,
            cors_origins=args.cors,
            auto_reload=args.auto_reload,
            endpoints=args.endpoints,
        )
    )
    app = loader.load()
    app.prepare(
        host=os.environ.get("SANIC_HOST", "0.0.0.0"),
        port=args.port,
        workers=utils.number_of_sanic_workers(),
    )
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()

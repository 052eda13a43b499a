"""`python -m bot.action_server --actions actions --port 5055`: rasa-sdk's action server
(same arguments) with every log line redacted, in its main process and in each Sanic
worker: the actions log shoppers' questions, and those may hold names and addresses.
It serves only Rasa: every route but `/health` needs `Authorization: Bearer
<ACTION_SERVER_TOKEN>` (endpoints.yml sends it), since whoever can call the actions can
use the order API token they hold.

It serves from this one process (Sanic's single-process mode). rasa-sdk's own `run()`
starts Sanic's manager process plus a worker, and both import the actions and load the
FAQ engine (spaCy, onnxruntime, the model): measured with bench/memory.py, the manager
held about 340 MB only to watch the worker, which the supervisor does already. `--workers
N` (N >= 1) still starts Sanic's manager with N workers (more cores, N + 1 times the
memory); the factory it pickles installs the redaction and the token check in each worker
before it serves anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import hmac
import logging
import os
from functools import partial
from typing import Any

from bot.logthrottle import Throttled, clip

log = logging.getLogger(__name__)

# Open to anyone: the supervisor's readiness check and load balancers poll it.
OPEN_PATHS = frozenset({"/health"})


def redact_logs() -> None:
    """Redact this process's log records (names through a spaCy pipeline of its own, so
    logging never shares one with the actions' threads)."""
    from bot.settings import get_settings
    from bot.staff.nlp import full_pipeline
    from bot.staff.redact import install_log_redaction

    model = get_settings().faq_spacy_model
    install_log_redaction(lambda: full_pipeline(model, purpose="logs"))


def require_rasa(app: Any, token: str) -> None:
    """Refuse (401) every request but `/health` that lacks Rasa's bearer token.

    Required on loopback too: other local users and processes can reach 127.0.0.1, and
    one rule is simpler to get right than a rule per interface."""
    from sanic import response

    expected = f"Bearer {token}".encode()
    refused = Throttled(log)

    async def check(request: Any) -> Any:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get("authorization")
        # Constant time: the answer's timing must not tell how much of a guess was right.
        if given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected):
            return None
        # Never the header's value: a near miss may be the real token or another secret.
        refused.warning(
            "refused a call to %s from %s: %s Authorization header (only Rasa may call)",
            clip(request.path),
            request.ip,
            "no" if given is None else "a wrong",
        )
        return response.json(
            {
                "error": "Only the Rasa server may call the action server: send the "
                "Authorization header of endpoints.yml (Bearer ACTION_SERVER_TOKEN)."
            },
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    app.register_middleware(check, "request")


def trim_heap() -> None:
    """Hand the heap memory freed while the actions loaded (the FAQ engine's model, index
    and spaCy) back to the system: glibc keeps freed pages for reuse, and loading frees
    far more than serving needs. Measured with bench/memory.py: about 35 MB."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _app(action_executor: Any, **kwargs: Any) -> Any:
    from rasa_sdk.endpoint import create_app_for_serve

    from bot.settings import get_settings

    app = create_app_for_serve(action_executor, **kwargs)
    require_rasa(app, get_settings().action_server_token.get_secret_value())
    return app


def _app_in_worker(action_executor: Any, **kwargs: Any) -> Any:
    redact_logs()
    return _app(action_executor, **kwargs)


def main(argv: list[str] | None = None) -> None:
    from pydantic import ValidationError

    from bot.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        raise SystemExit(f"The action server cannot start: {exc}") from None
    redact_logs()
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser
    from rasa_sdk.executor import ActionExecutor
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    parser = create_argument_parser()
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0 (default): serve from this process; N: Sanic's manager process plus N "
        "worker processes, each loading the actions and the FAQ engine",
    )
    args = parser.parse_args(argv)
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
    app_kwargs: dict[str, Any] = {
        "cors_origins": args.cors,
        "auto_reload": args.auto_reload,
        "endpoints": args.endpoints,
    }
    # rasa-sdk's default is every interface; ours is the setting (loopback).
    host = os.environ.get("SANIC_HOST", settings.action_server_host)
    if args.workers < 1:
        trim_heap()
        # Sanic stops on SIGINT/SIGTERM here as its workers do (the supervisor's stop and
        # PR_SET_PDEATHSIG send SIGTERM).
        app = _app(executor, **app_kwargs)
        app.prepare(host=host, port=args.port, single_process=True)
        Sanic.serve_single(primary=app)
        return
    loader = AppLoader(factory=partial(_app_in_worker, executor, **app_kwargs))
    app = loader.load()
    app.prepare(host=host, port=args.port, workers=args.workers)
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()

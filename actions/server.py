"""The action server: rasa-sdk's, bound to loopback by default, answering only callers that show the shared token.

rasa-sdk has no authentication and listens on every interface; anyone who reaches it can run any action for
any conversation (read and cancel orders) by posting a made-up tracker. So ``python -m actions.server`` (what
``make run`` and the tests start) builds rasa-sdk's own Sanic application and puts one request middleware in
front of it: every route but ``/health`` needs ``Authorization: Bearer <ACTIONS_TOKEN>``, which Rasa sends
from ``endpoints.yml`` (``action_endpoint.headers``). Without ``ACTIONS_TOKEN`` the server does not start.

Options are rasa-sdk's (``--actions``, ``--port``, ...) plus ``--host``; the defaults come from
``ACTIONS_HOST`` (127.0.0.1) and ``ACTIONS_PORT`` (5055).
"""

from __future__ import annotations

import hmac
import logging
import os
from functools import partial
from typing import Any

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app_for_serve, create_argument_parser, create_ssl_config
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

logger = logging.getLogger(__name__)
TOKEN_VARIABLE = "ACTIONS_TOKEN"
OPEN_PATHS = frozenset({"/health"})  # a load balancer's health check; it tells nothing


class MissingToken(SystemExit):
    """``ACTIONS_TOKEN`` is not set: the server would answer anyone, so it does not start (exit status 1, the
    sentence on stderr)."""


def required_token(environ: dict[str, str] | None = None) -> str:
    token = (os.environ if environ is None else environ).get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise MissingToken(f"{TOKEN_VARIABLE} is not set: the action server answers only callers that send it "
                           "(Rasa sends it from endpoints.yml). Set the same random value for both "
                           "(make run makes one per run).")
    return token


def guard(app: Sanic, token: str) -> Sanic:
    """Refuse every request but ``/health`` that lacks ``Authorization: Bearer <token>`` (401)."""
    expected = f"Bearer {token}".encode()

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get("authorization") or "").encode()
        if hmac.compare_digest(given, expected):
            return None
        logger.warning("refused a call to %s without the action server's token", request.path)
        return response.json({"error": "This action server needs its token."}, status=401)

    app.register_middleware(check, "request")
    return app


def create_app(executor: ActionExecutor, token: str, **options: Any) -> Sanic:
    """rasa-sdk's application (one per worker process) behind :func:`guard`."""
    return guard(create_app_for_serve(executor, **options), token)


def main(argv: list[str] | None = None) -> None:
    parser = create_argument_parser()
    parser.add_argument("--host", default=os.environ.get("ACTIONS_HOST", "127.0.0.1"),
                        help="interface to listen on (ACTIONS_HOST; default 127.0.0.1, loopback only)")
    parser.set_defaults(port=int(os.environ.get("ACTIONS_PORT", "5055")))
    args = parser.parse_args(argv)
    token = required_token()
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel,
                                 args.logging_config_file)
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions_module or args.actions)
    loader = AppLoader(factory=partial(create_app, executor, token, cors_origins=args.cors,
                                       auto_reload=args.auto_reload, endpoints=args.endpoints))
    app = loader.load()
    ssl = create_ssl_config(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    logger.info("action server on %s://%s:%s (token required)", "https" if ssl else "http", args.host, args.port)
    workers = utils.number_of_sanic_workers()
    if workers == 1:
        # One worker needs no Sanic worker manager: its multiprocessing manager process is one more thing to
        # die (a clean-clone CI run saw it reset its connection during start-up and take the server down).
        app.prepare(host=args.host, port=args.port, ssl=ssl, single_process=True)
        Sanic.serve_single(primary=app)
    else:
        app.prepare(host=args.host, port=args.port, ssl=ssl, workers=workers)
        Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()

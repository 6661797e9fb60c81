"""One endpoint instance: a Factorization Machines model behind the SageMaker container contract.

``GET /ping`` answers 200 once the model is loaded (it is loaded before the socket is served);
``POST /invocations`` answers predictions in the built-in algorithm's formats
(:mod:`cdlab.fm.inference`): 400 for a bad request, 415 for an unsupported content type, 406 for
an unsupported Accept, 500 only for a fault of the container itself.

    python -m cdlab.fm.serve_container --endpoint E --variant V --instance I \\
        --model-dir DIR (--fd N | --port P) [--parent-pid PID]

The parent binds the listening socket and passes its file descriptor (``--fd``); ``--port`` binds
127.0.0.1 itself, 0 meaning any free port. Either way the process prints ``listening on HOST:PORT``
to stdout once it serves. The names on the command line only tell instances apart in ``ps``.

Exit codes: 0 after SIGTERM or SIGINT (in-flight requests are finished first), 2 for a bad
command line or socket, 3 if the model cannot be loaded (the reason is the last line on stderr),
4 if the parent named by ``--parent-pid`` is already gone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from aiohttp import web

from cdlab.fm.inference import BadRequest, format_response, parse_request, response_type
from cdlab.fm.model import FMModel
from cdlab.parent import die_with_parent

EXIT_BAD_USAGE = 2
EXIT_MODEL_LOAD_FAILED = 3
MAX_BODY = 6_291_456  # InvokeEndpoint's largest Body
# Larger work goes to a thread so that /ping stays responsive meanwhile.
LARGE_BATCH_ROWS = 1000
LARGE_BODY_BYTES = 1 << 20
SHUTDOWN_TIMEOUT = 60.0  # SageMaker's limit for one invocation

log = logging.getLogger("cdlab.fm.serve_container")


class InFlight:
    """Counts invocations being handled, so that shutdown can wait for them.

    aiohttp's own graceful shutdown stops reading from connections at once, so a request whose
    body is still arriving would never finish (aio-libs/aiohttp#2298); waiting here first, with
    the connections still open, lets it complete.
    """

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def __enter__(self) -> None:
        self.count += 1
        self.idle.clear()

    def __exit__(self, *exc_info: object) -> None:
        self.count -= 1
        if not self.count:
            self.idle.set()


IN_FLIGHT = web.AppKey("in_flight", InFlight)


def _predict(model: FMModel, X: sp.csr_matrix, media_type: str) -> bytes:
    return format_response(model.predict(X), media_type)


def make_app(model: FMModel) -> web.Application:
    """The aiohttp application serving ``model``."""
    in_flight = InFlight()

    async def ping(request: web.Request) -> web.Response:
        return web.Response()

    async def invocations(request: web.Request) -> web.Response:
        with in_flight:
            return await handle(request)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        content_type = request.headers.get("Content-Type")
        loop = asyncio.get_running_loop()
        try:
            media_type = response_type(request.headers.get("Accept"))
            if len(body) > LARGE_BODY_BYTES:
                X = await loop.run_in_executor(
                    None, parse_request, body, content_type, model.feature_dim
                )
            else:
                X = parse_request(body, content_type, model.feature_dim)
            if X.shape[0] > LARGE_BATCH_ROWS:
                out = await loop.run_in_executor(None, _predict, model, X, media_type)
            else:
                out = _predict(model, X, media_type)
        except BadRequest as e:
            log.warning("invocation refused (%d): %s", e.status, e)
            return web.Response(status=e.status, text=str(e))
        except Exception as e:
            log.exception("invocation failed")
            return web.Response(
                status=500, text=f"internal error in the model container: {type(e).__name__}: {e}"
            )
        return web.Response(body=out, content_type=media_type)

    app = web.Application(client_max_size=MAX_BODY)
    app[IN_FLIGHT] = in_flight
    app.router.add_get("/ping", ping)
    app.router.add_post("/invocations", invocations)
    return app


def _listening_socket(args: argparse.Namespace) -> socket.socket:
    try:
        if args.fd is None:
            return socket.create_server(("127.0.0.1", args.port))
        sock = socket.socket(fileno=args.fd)
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise OSError(f"file descriptor {args.fd} is not a listening socket")
        return sock
    except OSError as e:
        print(f"cannot serve: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_USAGE)


async def _serve(app: web.Application, sock: socket.socket) -> None:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    host, port = sock.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    log.info("serving on %s:%d", host, port)
    await stop.wait()
    log.info("stopping: no new connections, finishing in-flight requests")
    await site.stop()
    try:
        await asyncio.wait_for(app[IN_FLIGHT].idle.wait(), SHUTDOWN_TIMEOUT)
    except TimeoutError:
        log.warning(
            "%d requests still in flight after %.0f s", app[IN_FLIGHT].count, SHUTDOWN_TIMEOUT
        )
    await runner.cleanup()
    log.info("stopped")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cdlab.fm.serve_container",
        description="Serve a Factorization Machines model as one SageMaker endpoint instance.",
    )
    parser.add_argument("--endpoint", required=True, help="endpoint name (for ps and logs)")
    parser.add_argument("--variant", required=True, help="production variant name")
    parser.add_argument("--instance", required=True, help="instance id")
    parser.add_argument("--model-dir", required=True, type=Path, help="the unpacked artifact")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="file descriptor of a bound, listening TCP socket")
    where.add_argument("--port", type=int, help="bind 127.0.0.1:PORT instead (0: any free port)")
    parser.add_argument("--parent-pid", type=int, help="exit at once unless this is the parent")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    who = f"{args.endpoint}/{args.variant}/{args.instance}".replace("%", "%%")
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format=f"%(asctime)s {who} %(levelname)s %(message)s"
    )
    die_with_parent(args.parent_pid)
    try:
        model = FMModel.load(args.model_dir)
        model.predict(sp.csr_matrix((1, model.feature_dim), dtype=np.float32))  # warm up
    except Exception as e:  # whatever the reason, it becomes the endpoint's FailureReason
        print(f"cannot load the model from {args.model_dir}: {e}", file=sys.stderr, flush=True)
        return EXIT_MODEL_LOAD_FAILED
    log.info(
        "model loaded: %s, feature_dim %d, num_factors %d",
        model.predictor_type,
        model.feature_dim,
        model.num_factors,
    )
    sock = _listening_socket(args)
    asyncio.run(_serve(make_app(model), sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``cdlab`` command."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from cdlab import cli_local, config
from cdlab import cliargs as arguments
from cdlab.cli_local import HOME_HELP
from cdlab.localcloud import control

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command Ctrl-C ended


def _console(args: argparse.Namespace) -> int:
    cloud = control.running(args.home)
    if cloud is None:
        print(
            f"cdlab: no local cloud is running (state in {args.home}); start it with "
            "`cdlab local up`",
            file=sys.stderr,
        )
        return 3
    from cdlab.localcloud.console import web

    address = web.url(cloud.port, web.token_file(args.home).read_text().strip())
    print(f"local console (read-only, live): {address}")
    if args.no_browser:
        return 0
    if not _has_display():
        print(
            "no display here (DISPLAY, WAYLAND_DISPLAY and BROWSER unset): open the address "
            "above in a browser"
        )
        return 0
    import webbrowser

    if not webbrowser.open(address):
        print("no browser found here: open the address above in one")
    return 0


def _has_display() -> bool:
    """Whether a browser can open beside this terminal. On Linux without a display, Python's
    webbrowser falls back to a text browser (lynx, w3m ...) in this very terminal, and "the
    calling process will block until the user exits the browser"
    (https://docs.python.org/3/library/webbrowser.html); BROWSER names one the user chose."""
    names = ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    return sys.platform != "linux" or any(os.environ.get(name) for name in names)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdlab",
        description="CD Lab: continuous delivery of ML models to Amazon SageMaker, offline.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="show the version"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cli_local.add_local(commands)
    _add_console(commands)
    _add_load(commands)
    _add_pipeline(commands)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("cdlab")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _add_console(commands: argparse._SubParsersAction) -> None:
    console = commands.add_parser(
        "console",
        help="print the local cloud's console URL and open it in a browser",
        description="The local console: a read-only live page of the local cloud (endpoints, "
        "variants, instances, metrics, scaling, alarms, training jobs, stacks).",
        epilog="Exit status: 0 the URL printed (and a browser asked to open it), 3 no local "
        "cloud is running.",
    )
    console.add_argument("--home", type=Path, default=config.home(), help=HOME_HELP)
    console.add_argument("--no-browser", action="store_true", help="only print the URL")
    console.set_defaults(handler=_console)


def _add_pipeline(commands: argparse._SubParsersAction) -> None:
    from cdlab.pipeline.definition import DEFAULT_STACK

    pipeline = commands.add_parser(
        "pipeline",
        help="Lab 3 in one command: deploy the pipeline stack, upload, follow, approve",
        description="Lab 3's CD pipeline (cloudformation/pipeline.yml) through the AWS API, on "
        "the local cloud or on AWS as CDLAB_TARGET says: `run` takes this checkout's HEAD "
        "through it, `approve` answers the manual approval a run left waiting.",
    )
    pipeline_commands = pipeline.add_subparsers(dest="action", required=True)
    text = (
        "Lab 3's steps in one command, through the AWS API (the local cloud or AWS, as "
        "CDLAB_TARGET says): deploy cloudformation/pipeline.yml as the stack NAME (aws "
        "cloudformation deploy), upload git archive HEAD to its source bucket (aws s3 cp), which "
        "starts an execution through EventBridge, then follow it (get-pipeline-state): Source, "
        "Build (predata.py, train.py), DeployQA, TestQA (the match-rate gate), Approval, "
        "DeployProd (blue/green). Each build's log is read from CloudWatch Logs. Exit status: 0 "
        "deployed, 1 a stage failed, 3 waiting for approval, 130 interrupted (Ctrl-C): the "
        "execution goes on in the cloud, and the run says how to follow and approve it."
    )
    run = pipeline_commands.add_parser("run", help="run it once, end to end", description=text)
    run.add_argument(
        "--stack-name",
        default=DEFAULT_STACK,
        help="the pipeline stack's name: endpoints are qa-NAME-... and prod-NAME "
        "(default: %(default)s; at most 34 lower-case letters, digits and hyphens)",
    )
    run.add_argument(
        "--approve",
        action="store_true",
        help="approve the manual approval (put-approval-result); else the run stops there",
    )
    run.add_argument(
        "--keep-runs",
        type=arguments.at_least_one,
        default=10,
        metavar="N",
        help="keep the newest N run directories (the actions' logs) under "
        "$CDLAB_HOME/pipeline/runs and delete older ones (default: %(default)s)",
    )
    run.set_defaults(handler=_pipeline_run)
    text = (
        "Answer the manual approval that waits in the pipeline NAME (a run without --approve): "
        "approve, and DeployProd deploys that execution's build; or --reject, and prod stays as "
        "it is. It is aws codepipeline put-approval-result with the token get-pipeline-state "
        "shows. Exit status: 0 deployed, 1 rejected, failed or nothing to approve, 130 "
        "interrupted (Ctrl-C; the execution goes on in the cloud)."
    )
    approve = pipeline_commands.add_parser(
        "approve", help="approve (or reject) the execution waiting at Approval", description=text
    )
    approve.add_argument("--stack-name", default=DEFAULT_STACK, help="default: %(default)s")
    approve.add_argument("--reject", action="store_true", help="reject instead: prod unchanged")
    approve.set_defaults(handler=_pipeline_approve)


def _pipeline_run(args: argparse.Namespace) -> int:
    from cdlab.pipeline import runner

    options = runner.Options(
        directory=Path.cwd(),
        stack=args.stack_name,
        approve=args.approve,
        keep_runs=args.keep_runs,
    )
    return runner.run(options)


def _pipeline_approve(args: argparse.Namespace) -> int:
    from cdlab.pipeline import runner

    return runner.approve(args.stack_name, approved=not args.reject)


def _add_load(commands: argparse._SubParsersAction) -> None:
    text = (
        "Send requests to a local endpoint at a steady rate, or at stepped rates that share "
        "--duration equally (open loop: requests go out on schedule whether or not earlier "
        "ones were answered), with a live progress line and a summary."
    )
    epilog = (
        "Exit status: 0 every request answered, 1 some failed (an error or no answer), 2 the "
        "load asked for is out of bounds or has no local endpoint to go to, 130 interrupted "
        "(Ctrl-C): the summary of the requests sent so far is printed."
    )
    load = commands.add_parser(
        "load", help="a load generator for a local endpoint", description=text, epilog=epilog
    )
    load.add_argument("endpoint", help="the endpoint name")
    load.add_argument("--rate", type=arguments.number, default=10.0, help="requests per second")
    load.add_argument("--duration", type=arguments.number, default=30.0, help="seconds in all")
    load.add_argument("--steps", type=arguments.rates, help="rates, e.g. 10,50,100")
    load.add_argument(
        "--feature-dim",
        type=arguments.at_least_one,
        default=2625,
        help="the model's feature_dim (for the requests)",
    )
    load.set_defaults(handler=_load)


def _load(args: argparse.Namespace) -> int:
    from cdlab import load

    rates = args.steps or [args.rate]
    try:
        load.preflight(args.endpoint, rates, args.duration)
    except load.LoadError as e:
        print(f"cdlab load: {e}", file=sys.stderr)
        return 2
    print(
        f"cdlab load: {'/'.join(f'{r:g}' for r in rates)} requests/s to {args.endpoint} for "
        f"{args.duration:g} s (Ctrl-C stops it and prints the summary so far)",
        file=sys.stderr,
        flush=True,
    )
    with _stop_on_ctrl_c() as stop:
        report = load.run(
            args.endpoint,
            rate=args.rate,
            duration=args.duration,
            steps=args.steps,
            bodies=load.sample_bodies(args.feature_dim),
            progress=load.tty_progress(),
            stop=stop,
            checked=True,  # by the preflight above
        )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if stop.is_set():
        print("cdlab load: interrupted; the requests sent so far:", file=sys.stderr)
    print(report.summary())
    if stop.is_set():
        return EXIT_INTERRUPTED
    return 0 if report.failed == 0 else 1


@contextlib.contextmanager
def _stop_on_ctrl_c() -> Iterator[threading.Event]:
    """An event the first Ctrl-C sets (a second one interrupts at once), while the block runs;
    left to Python where SIGINT is not its default (ignored, as in a background job)."""
    stop = threading.Event()
    ours = threading.current_thread() is threading.main_thread()  # where Python takes signals
    if not ours or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield stop
        return

    def first(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    """The command line's exit status; a user's or environment's error is one ``cdlab:`` line
    on stderr (exit 1; 2 for a usage error, from argparse), Ctrl-C exit 130."""
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except KeyboardInterrupt:
        print("cdlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (control.CloudError, config.ConfigError, BotoCoreError, ClientError) as e:
        print(f"cdlab: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

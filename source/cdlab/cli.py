"""The ``cdlab`` command."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from cdlab import cliargs as arguments
from cdlab import config, logfollow
from cdlab.localcloud import control

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command Ctrl-C ended


def _local_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    cloud = control.up(args.home, args.port)
    if cloud.started:
        print(f"local cloud up {cloud.described()} in {time.monotonic() - started:.1f} s")
    else:
        print(f"local cloud already running {cloud.described()}")
    print(f'point a shell at it with:  eval "$({config.cdlab_command()} local env)"')
    return 0


def _local_down(args: argparse.Namespace) -> int:
    stopped = control.down(args.home)
    print("local cloud stopped" if stopped else "no local cloud was running")
    return 0


def _local_status(args: argparse.Namespace) -> int:
    cloud = control.running(args.home)
    if cloud is None:
        print(f"local cloud: down (state in {args.home})")
        return 3
    import boto3

    # the kit's client environment, as `eval "$(cdlab local env)"` sets it: its own config file
    # and profile, so a profile the shell names (AWS_PROFILE) does not get in the way
    env = control.client_environment(args.home, cloud.port)
    os.environ.update(env)
    sm = boto3.Session().client(
        "sagemaker",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        endpoints = sm.list_endpoints(MaxResults=100)["Endpoints"]
    except ClientError as e:
        raise control.CloudError(_refused(args.home, env["AWS_ACCESS_KEY_ID"], e)) from e
    print(f"local cloud: up {cloud.described()}")
    print(f"endpoints: {len(endpoints)}")
    for e in endpoints:
        print(f"  {e['EndpointName']:<50} {e['EndpointStatus']}")
    return 0


def _refused(home: Path, key_id: str, error: ClientError) -> str:
    """Why the cloud refused ``local status``'s call, and what to do about it."""
    answer = error.response.get("Error", {})
    said = (
        f"the local cloud refused ListEndpoints signed with the key {key_id} "
        f"({answer.get('Code')}: {answer.get('Message', '').rstrip('.')})"
    )
    if all(os.environ.get(v) for v in (control.ACCESS_KEY_VARIABLE, control.SECRET_KEY_VARIABLE)):
        return (
            f"{said}. That key is {control.ACCESS_KEY_VARIABLE}'s: name a key of this cloud's "
            f"IAM users there, or unset {control.ACCESS_KEY_VARIABLE} and "
            f"{control.SECRET_KEY_VARIABLE} to use the kit's own key"
        )
    return (
        f"{said}. That is the kit's key, from {home}/credentials.json: restart the cloud "
        "(`cdlab local down`, then `cdlab local up`) if that file changed while it ran"
    )


def _local_logs(args: argparse.Namespace) -> int:
    path = control.log_file(args.home)
    there = path.exists()
    if not there:
        waits = "; waiting for it (Ctrl-C stops)" if args.follow else ""
        print(f"cdlab: no log yet in {path}: the local cloud writes it from its start "
              f"(`cdlab local up`){waits}", file=sys.stderr)  # fmt: skip
        if not args.follow:
            return 1
    elif args.lines:
        print(control.tail(args.home, args.lines))
    if args.follow:
        with contextlib.suppress(KeyboardInterrupt):
            logfollow.follow(path, from_end=there)
    return 0


def _local_reset(args: argparse.Namespace) -> int:
    if not args.home.exists():
        print(f"no local cloud state in {args.home}: nothing to stop or delete")
        return 0
    stopped = control.down(args.home)
    deleted = []
    for name in control.STATE:
        path = args.home / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink(missing_ok=True)
        else:
            continue
        deleted.append(name)
    print(
        ("local cloud stopped" if stopped else "no local cloud was running")
        + (f"; its state in {args.home} deleted" if deleted else f"; no state in {args.home}")
        + " (kept: its access key, and the client config `cdlab local env` points shells at)"
    )
    return 0


def _local_env(args: argparse.Namespace) -> int:
    cloud = control.running(args.home)
    port = cloud.port if cloud else args.port or config.DEFAULT_PORT
    env = control.client_environment(args.home, port)
    env["PATH"] = config.path_with_scripts(os.environ.get("PATH", ""))  # the kit's aws first
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    if cloud is None:
        print(f"cdlab: no local cloud is running (state in {args.home}): these variables point "
              f"at port {port}, where nothing answers yet; start it with "
              f"`{config.cdlab_command()} local up`", file=sys.stderr)  # fmt: skip
    return 0


def _console(args: argparse.Namespace) -> int:
    cloud = control.running(args.home)
    if cloud is None:
        print(f"cdlab: no local cloud is running (state in {args.home}); start it with "
              "`cdlab local up`", file=sys.stderr)  # fmt: skip
        return 3
    from cdlab.localcloud.console import web

    address = web.url(cloud.port, web.token_file(args.home).read_text().strip())
    print(f"local console (read-only, live): {address}")
    if args.no_browser:
        return 0
    if not _has_display():
        print("no display here (DISPLAY, WAYLAND_DISPLAY and BROWSER unset): open the address "
              "above in a browser")  # fmt: skip
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


HOME_HELP = "state directory (default: $CDLAB_HOME, else ~/.cdlab)"
PORT_HELP = f"loopback port (default: $CDLAB_PORT, else {config.DEFAULT_PORT})"
LOCAL_EPILOGS = {
    "status": "Exit status: 0 up, 3 down, 1 up but it refused the key (the message says which).",
    "logs": "Exit status: 0, or 1 when there is no log yet (before the first `cdlab local up`, "
    "or after `cdlab local reset`); with -f it waits for the log instead, as tail -F does, and "
    "follows the new log after a reset and an up.",
    "reset": "Kept: the access key (credentials.json) and the client config that "
    "`cdlab local env` points shells at (aws-config, botocore-data), so a shell already "
    "pointed at the cloud works again after the next up.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdlab",
        description="CD Lab: continuous delivery of ML models to Amazon SageMaker, offline.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="show the version"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser(
        "local",
        help="run the local cloud (SageMaker on 127.0.0.1)",
        description="The local cloud: one process on 127.0.0.1 that speaks the AWS APIs the lab "
        "uses (SageMaker, S3, IAM, CloudFormation, CodePipeline ...), its state in --home.",
    )
    local_commands = local.add_subparsers(dest="action", required=True)
    for name, handler, text in (
        ("up", _local_up, "start the local cloud in the background"),
        ("down", _local_down, "stop it (endpoints come back at the next up)"),
        ("status", _local_status, "is it up, and which endpoints it serves"),
        ("logs", _local_logs, "show its log"),
        ("reset", _local_reset, "stop it and delete its state (endpoints, S3, IAM, stacks ...)"),
        ("env", _local_env, 'print export lines for a shell: eval "$(cdlab local env)"'),
    ):
        sub = local_commands.add_parser(
            name, help=text, description=text, epilog=LOCAL_EPILOGS.get(name)
        )
        sub.add_argument("--home", type=Path, default=config.home(), help=HOME_HELP)
        if name in ("up", "env"):  # env: the port to name when no cloud runs yet
            sub.add_argument(
                "--port", type=arguments.port, default=config.asked_port(), help=PORT_HELP
            )
        sub.set_defaults(handler=handler)
        if name == "up":
            sub.epilog = (
                "Requests signed by IAM users' keys or role sessions are checked against their "
                "IAM policies (and S3 bucket policies); CDLAB_IAM=off in the environment turns "
                "the checks off. The kit's own key may do everything. "
                "CDLAB_TIME_SCALE=N makes the cloud's time (CloudWatch minutes, cooldowns, bake "
                "times, the latency below) pass N times faster. CDLAB_LATENCY=fast (the default) "
                "creates endpoints, runs training jobs and stack operations at once; "
                "CDLAB_LATENCY=aws makes them take as long as AWS typically does (an endpoint some "
                "6 minutes, a training job's start some 3, each stack resource 10 s), compressed "
                "by CDLAB_TIME_SCALE, so a notebook's waits are tested as on AWS "
                "(docs/aws-compatibility.md, 'Latency profiles')."
            )
        if name == "logs":
            sub.add_argument(
                "-n", "--lines", type=arguments.whole_number, default=50,
                help="how many of its last lines to show first (default: %(default)s)",
            )  # fmt: skip
            sub.add_argument(
                "-f", "--follow", action="store_true",
                help="then print new lines as they come, until Ctrl-C (as tail -F)",
            )  # fmt: skip
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
        load.invocation_url(args.endpoint)
        load.check(rates, args.duration)
        load.check_endpoint(args.endpoint)
    except load.LoadError as e:
        print(f"cdlab load: {e}", file=sys.stderr)
        return 2
    print(f"cdlab load: {'/'.join(f'{r:g}' for r in rates)} requests/s to {args.endpoint} for "
          f"{args.duration:g} s (Ctrl-C stops it and prints the summary so far)",
          file=sys.stderr, flush=True)  # fmt: skip
    with _stop_on_ctrl_c() as stop:
        report = load.run(
            args.endpoint,
            rate=args.rate,
            duration=args.duration,
            steps=args.steps,
            bodies=load.sample_bodies(args.feature_dim),
            progress=load.tty_progress(),
            stop=stop,
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

"""The ``cdlab`` command."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from cdlab import config
from cdlab.localcloud import control


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

    env = control.client_environment(args.home, cloud.port)
    sm = boto3.client(
        "sagemaker",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    endpoints = sm.list_endpoints(MaxResults=100)["Endpoints"]
    print(f"local cloud: up {cloud.described()}")
    print(f"endpoints: {len(endpoints)}")
    for e in endpoints:
        print(f"  {e['EndpointName']:<50} {e['EndpointStatus']}")
    return 0


def _local_logs(args: argparse.Namespace) -> int:
    print(control.tail(args.home, args.lines))
    if args.follow:
        path = control.log_file(args.home)
        with open(path, errors="replace") as f:
            f.seek(0, 2)
            try:
                while True:
                    line = f.readline()
                    if line:
                        print(line, end="", flush=True)
                    else:
                        time.sleep(0.2)
            except KeyboardInterrupt:
                pass
    return 0


def _local_reset(args: argparse.Namespace) -> int:
    control.down(args.home)
    for name in control.STATE:
        path = args.home / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    print(f"local cloud stopped and its state in {args.home} deleted (access key kept)")
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
    if not args.no_browser:
        import webbrowser

        if not webbrowser.open(address):
            print("no browser found here: open the address above in one")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdlab",
        description="CD Lab: continuous delivery of ML models to Amazon SageMaker, offline.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the local cloud (SageMaker on 127.0.0.1)")
    local_commands = local.add_subparsers(dest="action", required=True)
    for name, handler, text in (
        ("up", _local_up, "start the local cloud in the background"),
        ("down", _local_down, "stop it (endpoints come back at the next up)"),
        ("status", _local_status, "is it up, and which endpoints it serves"),
        ("logs", _local_logs, "show its log"),
        ("reset", _local_reset, "stop it and delete all its state"),
        ("env", _local_env, 'print export lines for a shell: eval "$(cdlab local env)"'),
    ):
        sub = local_commands.add_parser(name, help=text, description=text)
        sub.add_argument("--home", type=Path, default=config.home(), help="state directory")
        sub.add_argument("--port", type=_port, default=_port_default(name), help="loopback port")
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
            sub.add_argument("-n", "--lines", type=int, default=50)
            sub.add_argument("-f", "--follow", action="store_true")

    console = commands.add_parser(
        "console",
        help="print the local cloud's console URL and open it in a browser",
        description="The local console: a read-only live page of the local cloud (endpoints, "
        "variants, instances, metrics, scaling, alarms, training jobs, stacks).",
    )
    console.add_argument("--home", type=Path, default=config.home(), help="state directory")
    console.add_argument("--no-browser", action="store_true", help="only print the URL")
    console.set_defaults(handler=_console)
    _add_load(commands)
    _add_pipeline(commands)
    return parser


def _add_pipeline(commands: argparse._SubParsersAction) -> None:
    from cdlab.pipeline.definition import DEFAULT_STACK

    pipeline = commands.add_parser(
        "pipeline", help="Lab 3 in one command: deploy the pipeline stack, upload, follow, approve"
    )
    pipeline_commands = pipeline.add_subparsers(dest="action", required=True)
    text = (
        "Lab 3's steps in one command, through the AWS API (the local cloud or AWS, as "
        "CDLAB_TARGET says): deploy cloudformation/pipeline.yml as the stack NAME (aws "
        "cloudformation deploy), upload git archive HEAD to its source bucket (aws s3 cp), which "
        "starts an execution through EventBridge, then follow it (get-pipeline-state): Source, "
        "Build (predata.py, train.py), DeployQA, TestQA (the match-rate gate), Approval, "
        "DeployProd (blue/green). Each build's log is read from CloudWatch Logs. Exit status: 0 "
        "deployed, 1 a stage failed, 3 waiting for approval."
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
        type=_at_least_one,
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
        "shows. Exit status: 0 deployed, 1 rejected, failed or nothing to approve."
    )
    approve = pipeline_commands.add_parser(
        "approve", help="approve (or reject) the execution waiting at Approval", description=text
    )
    approve.add_argument("--stack-name", default=DEFAULT_STACK, help="default: %(default)s")
    approve.add_argument("--reject", action="store_true", help="reject instead: prod unchanged")
    approve.set_defaults(handler=_pipeline_approve)


def _port(text: str) -> int:
    try:
        return config.parse_port(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e} (from --port or CDLAB_PORT)") from None


def _port_default(action: str) -> str | None:
    """CDLAB_PORT for ``up`` and ``env``, checked by argparse as if it were --port's value (a
    string default is); None, when it names none, is no port asked for. The other commands
    find the port in the home and ignore it."""
    return (os.environ.get("CDLAB_PORT") or None) if action in ("up", "env") else None


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


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
    load = commands.add_parser(
        "load", help="a load generator for a local endpoint", description=text
    )
    load.add_argument("endpoint", help="the endpoint name")
    load.add_argument("--rate", type=float, default=10.0, help="requests per second")
    load.add_argument("--duration", type=float, default=30.0, help="seconds in all")
    load.add_argument(
        "--steps", type=lambda v: [float(r) for r in v.split(",")], help="rates, e.g. 10,50,100"
    )
    load.add_argument(
        "--feature-dim", type=int, default=2625, help="the model's feature_dim (for the requests)"
    )
    load.set_defaults(handler=_load)


def _load(args: argparse.Namespace) -> int:
    from cdlab import load

    try:
        report = load.run(
            args.endpoint,
            rate=args.rate,
            duration=args.duration,
            steps=args.steps,
            bodies=load.sample_bodies(args.feature_dim),
            progress=load.tty_progress(),
        )
    except load.LoadError as e:
        print(f"cdlab load: {e}", file=sys.stderr)
        return 2
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(report.summary())
    return 0 if report.failed == 0 else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except control.CloudError as e:
        print(f"cdlab: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

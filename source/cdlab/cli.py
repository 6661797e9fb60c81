"""The ``cdlab`` command."""

from __future__ import annotations

import argparse
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
    print(
        f"local cloud up at {cloud.url} (pid {cloud.pid}, state in {cloud.home}) "
        f"in {time.monotonic() - started:.1f} s"
    )
    print('point a shell at it with:  eval "$(cdlab local env)"')
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
    print(f"local cloud: up at {cloud.url} (pid {cloud.pid}, state in {cloud.home})")
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
    for name in ("state.db", "state.db-wal", "state.db-shm", "cloud.json"):
        (args.home / name).unlink(missing_ok=True)
    for name in ("artifacts", "instances", "logs"):
        shutil.rmtree(args.home / name, ignore_errors=True)
    print(f"local cloud stopped and its state in {args.home} deleted (access key kept)")
    return 0


def _local_env(args: argparse.Namespace) -> int:
    cloud = control.running(args.home)
    port = cloud.port if cloud else args.port
    for key, value in control.client_environment(args.home, port).items():
        print(f"export {key}={shlex.quote(value)}")
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
        sub.add_argument("--port", type=int, default=config.port(), help="loopback port")
        sub.set_defaults(handler=handler)
        if name == "logs":
            sub.add_argument("-n", "--lines", type=int, default=50)
            sub.add_argument("-f", "--follow", action="store_true")

    demo = commands.add_parser(
        "demo", help="the main job: deploy a model on the local cloud, invoke it, summarise"
    )
    demo.set_defaults(handler=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from cdlab.demo import run

    return run()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except control.CloudError as e:
        print(f"cdlab: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

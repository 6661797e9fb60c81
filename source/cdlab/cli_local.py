"""``cdlab local ...``: start, stop, inspect and reset the local cloud, and point a shell at it."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from botocore.exceptions import ClientError

from cdlab import cliargs as arguments
from cdlab import config, logfollow
from cdlab.localcloud import control

HOME_HELP = "state directory (default: $CDLAB_HOME, else ~/.cdlab)"
PORT_HELP = f"loopback port (default: $CDLAB_PORT, else {config.DEFAULT_PORT})"
LOCAL_EPILOGS = {
    "up": (
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
    ),
    "status": "Exit status: 0 up, 3 down, 1 up but it refused the key (the message says which).",
    "logs": "Exit status: 0, or 1 when there is no log yet (before the first `cdlab local up`, "
    "or after `cdlab local reset`); with -f it waits for the log instead, as tail -F does, and "
    "follows the new log after a reset and an up.",
    "reset": "Kept: the access key (credentials.json) and the client config that "
    "`cdlab local env` points shells at (aws-config, botocore-data), so a shell already "
    "pointed at the cloud works again after the next up.",
}


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
    log = logfollow.open_log(path)  # one handle: its last lines, then those written since
    if log is None:
        waits = "; waiting for it (Ctrl-C stops)" if args.follow else ""
        print(
            f"cdlab: no log yet in {path}: the local cloud writes it from its start "
            f"(`cdlab local up`){waits}",
            file=sys.stderr,
        )
        if not args.follow:
            return 1
    else:
        shown = logfollow.last_lines(log, args.lines)
        if not args.follow:
            log.close()
            shown += "" if shown.endswith("\n") or not shown else "\n"
        print(shown, end="", flush=True)
    if args.follow:
        with contextlib.suppress(KeyboardInterrupt):
            logfollow.follow(path, log)
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
        print(
            f"cdlab: no local cloud is running (state in {args.home}): these variables point "
            f"at port {port}, where nothing answers yet; start it with "
            f"`{config.cdlab_command()} local up`",
            file=sys.stderr,
        )
    return 0


def add_local(commands: argparse._SubParsersAction) -> None:
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
        if name == "logs":
            sub.add_argument(
                "-n",
                "--lines",
                type=arguments.whole_number,
                default=50,
                help="how many of its last lines to show first (default: %(default)s)",
            )
            sub.add_argument(
                "-f",
                "--follow",
                action="store_true",
                help="then print new lines as they come, until Ctrl-C (as tail -F)",
            )

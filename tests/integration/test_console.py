"""The local console against a real local cloud at ``CDLAB_TIME_SCALE=60``: only with its token,
only for loopback Hosts, read-only, and its charts' figures are CloudWatch's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdlab import load
from cdlab.localcloud.console import web
from tests.conftest import small_model
from tests.console_http import ROUTES, ConsoleHttp
from tests.integration.scaled import BUCKET, FEATURES, ScaledCloud, scaled_cloud
from tests.polling import poll

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


@pytest.fixture(scope="module")
def console(scaled: ScaledCloud) -> ConsoleHttp:
    return ConsoleHttp.of(scaled.cloud)


@pytest.fixture(scope="module")
def served(scaled: ScaledCloud) -> str:
    """An endpoint that has served a few seconds (cloud minutes) of traffic."""
    name = scaled.endpoint("console", small_model(1, feature_dim=FEATURES))
    env = {**os.environ, **scaled.env}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        report = load.run(name, rate=20, duration=4, bodies=load.sample_bodies(FEATURES))
    assert report.sent > 0 and report.failed == 0, report.summary()
    return name


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_refuses_a_request_without_the_token_or_with_another(
    console: ConsoleHttp, route: str
) -> None:
    assert console.request(route, token=None).status == 403
    assert console.request(route, token="not-" + console.token).status == 403
    assert console.request(route).status == 200


def test_a_foreign_host_is_refused_even_with_the_token(console: ConsoleHttp) -> None:
    answer = console.request("", headers={"Host": f"rebound.example:{console.port}"})
    assert answer.status == 403 and b"DNS" in answer.body


def test_the_token_in_the_url_sets_a_cookie_that_then_suffices(console: ConsoleHttp) -> None:
    answer = console.request("")
    assert answer.status == 200 and b"CD Lab local console" in answer.body
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    pair = cookie.split(";", 1)[0]
    assert console.request("api/state", token=None, headers={"Cookie": pair}).status == 200
    wrong = {"Cookie": f"{web.COOKIE}=guess"}
    assert console.request("api/state", token=None, headers=wrong).status == 403


def test_no_route_changes_state_on_post_put_or_delete(
    scaled: ScaledCloud, console: ConsoleHttp, served: str
) -> None:
    sm = scaled.client("sagemaker")
    before = sm.describe_endpoint(EndpointName=served)
    shown = console.state()["endpoints"]
    for route in (*ROUTES, "api/endpoints", f"api/state/{served}"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            answer = console.request(route, method=method, headers={"Content-Length": "0"})
            assert answer.status == 405, (route, method, answer)
            assert answer.headers["Allow"] == "GET, HEAD"
    after = sm.describe_endpoint(EndpointName=served)
    assert after["EndpointStatus"] == "InService"
    assert after["LastModifiedTime"] == before["LastModifiedTime"]
    assert after["ProductionVariants"] == before["ProductionVariants"]
    assert console.state()["endpoints"] == shown
    assert web.token_file(scaled.cloud.home).read_text().strip() == console.token


def test_the_address_without_its_slash_is_redirected_with_its_query(
    console: ConsoleHttp,
) -> None:
    bare = web.PREFIX.rstrip("/")
    answer = console.send(f"{bare}?token={console.token}&x=a%2Bb")
    assert answer.status == 302
    assert answer.headers["Location"] == f"{web.PREFIX}?token={console.token}&x=a%2Bb"
    assert console.send(answer.headers["Location"]).status == 200
    assert console.send(bare).headers["Location"] == web.PREFIX
    foreign = console.send(bare, headers={"Host": f"rebound.example:{console.port}"})
    assert foreign.status == 403 and b"DNS" in foreign.body


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_at_the_clouds_address_is_told_of_cdlab_console(console: ConsoleHttp) -> None:
    page = console.send("/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b"cdlab console" in page.body and console.token.encode() not in page.body
    assert page.headers["X-Frame-Options"] == "DENY"
    # as before for any other: unsigned and not asking for HTML, or from a foreign Host
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/xml"}):
        unsigned = console.send("/", headers=headers)
        assert unsigned.status == 403 and b"Missing Authentication Token" in unsigned.body
    rebound = {"Accept": BROWSER_ACCEPT, "Host": f"rebound.example:{console.port}"}
    foreign = console.send("/", headers=rebound)
    assert foreign.status == 403 and b"DNS rebinding" in foreign.body
    for method in ("HEAD", "POST"):
        assert console.send("/", method, {"Accept": BROWSER_ACCEPT}).status == 403


def test_s3_list_buckets_at_the_clouds_address_is_answered_as_before(
    scaled: ScaledCloud, console: ConsoleHttp
) -> None:
    """S3's ListBuckets is ``GET /``: signed, or presigned, it is answered by S3 even when it
    asks for HTML."""
    s3 = scaled.client("s3")
    s3.meta.events.register(
        "before-sign.s3.ListBuckets",
        lambda request, **_: request.headers.__setitem__("Accept", BROWSER_ACCEPT),
    )
    assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    presigned = urllib.parse.urlsplit(s3.generate_presigned_url("list_buckets"))
    assert presigned.path == "/"
    listed = console.send(f"/?{presigned.query}", headers={"Accept": BROWSER_ACCEPT})
    assert listed.status == 200 and b"<ListAllMyBucketsResult" in listed.body
    assert f"<Name>{BUCKET}</Name>".encode() in listed.body


def test_unknown_pages_and_paths_out_of_the_assets_are_not_found(console: ConsoleHttp) -> None:
    for route in ("nothing", "static/../web.py", "static/%2e%2e/web.py", "static/"):
        assert console.request(route).status == 404, route


def test_the_page_shows_the_endpoint_its_fleet_and_instances(
    console: ConsoleHttp, served: str
) -> None:
    [shown] = [e for e in console.state()["endpoints"] if e["EndpointName"] == served]
    assert shown["EndpointStatus"] == "InService"
    [serving] = shown["Serving"]
    assert (serving["VariantName"], serving["Fleet"], serving["TrafficShare"]) == (
        "AllTraffic",
        "blue",
        1.0,
    )
    assert [i["Health"] for i in serving["Instances"]] == ["Healthy"]


def test_the_charts_figures_are_what_get_metric_statistics_returns(
    scaled: ScaledCloud, console: ConsoleHttp, served: str
) -> None:
    charts = poll(
        lambda: console.state()["charts"],
        until=lambda c: any(
            v for p in c["endpoints"][served]["invocations"]["series"].values()
            for _, v in p["points"]
        ),
        what="the invocations chart to show the load",
    )  # fmt: skip
    start, end = charts["window"]
    assert charts["period"] == 1  # a cloud minute at scale 60
    compared = 0
    for chart in charts["endpoints"][served].values():
        for series in chart["series"].values():
            namespace = "/aws/sagemaker/Endpoints" if series["metric"] == "CPUUtilization" else (
                "AWS/SageMaker"
            )  # fmt: skip
            answer = scaled.aws(
                "cloudwatch", "get-metric-statistics", "--namespace", namespace,
                "--metric-name", series["metric"], "--start-time", start, "--end-time", end,
                "--period", str(charts["period"]), "--statistics", series["statistic"],
                "--dimensions", f"Name=EndpointName,Value={served}",
                f"Name=VariantName,Value={series['variant']}",
            )  # fmt: skip
            datapoints = json.loads(answer.stdout)["Datapoints"]
            from_cli = sorted((d["Timestamp"], d[series["statistic"]]) for d in datapoints)
            shown = series["points"]
            assert [v for _, v in shown] == [v for _, v in from_cli], series["metric"]
            assert all(  # the CLI prints times to the millisecond
                abs(t - cli_t) < 1e-3 for (t, _), (cli_t, _) in zip(shown, from_cli, strict=True)
            ), (shown, from_cli)
            compared += len(shown)
    assert compared > 10


def test_cdlab_console_prints_the_url_with_the_token(scaled: ScaledCloud) -> None:
    env = {**os.environ, "CDLAB_HOME": str(scaled.cloud.home)}
    cli = [sys.executable, "-m", "cdlab.cli", "console", "--no-browser"]
    printed = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    token = web.token_file(scaled.cloud.home).read_text().strip()
    assert web.url(scaled.cloud.port, token) in printed.stdout


def test_cdlab_console_without_a_display_opens_no_text_browser(
    scaled: ScaledCloud, tmp_path: Path
) -> None:
    """Without a display, Python's webbrowser would run a text browser in the terminal (lynx
    here), which blocks until it is quit: the command says to open the address instead."""
    opened = tmp_path / "opened"
    lynx = tmp_path / "bin" / "lynx"
    lynx.parent.mkdir()
    lynx.write_text(f'#!/bin/sh\necho "$@" > {opened}\n')
    lynx.chmod(0o755)
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    }
    env.update(CDLAB_HOME=str(scaled.cloud.home), TERM="xterm",
               PATH=f"{lynx.parent}:{os.environ['PATH']}")  # fmt: skip
    cli = [sys.executable, "-m", "cdlab.cli", "console"]
    printed = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert "no display here" in printed.stdout and "open the address above" in printed.stdout
    assert not opened.exists()


def test_cdlab_console_says_when_no_cloud_runs(tmp_path) -> None:
    env = {**os.environ, "CDLAB_HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "cdlab.cli", "console", "--no-browser"]
    printed = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 3 and "cdlab local up" in printed.stderr


def test_polling_while_invoking_loses_no_request(scaled: ScaledCloud, console: ConsoleHttp,
                                                 served: str) -> None:  # fmt: skip
    stop = threading.Event()
    polls: list[int] = []

    def keep_polling() -> None:
        while not stop.is_set():
            polls.append(console.request("api/state").status)
            stop.wait(0.2)

    poller = threading.Thread(target=keep_polling)
    poller.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in scaled.env.items():
                patch.setenv(key, value)
            report = load.run(served, rate=30, duration=2, bodies=load.sample_bodies(FEATURES))
    finally:
        stop.set()
        poller.join()
    assert report.failed == 0 and report.sent > 0, report.summary()
    assert polls and set(polls) == {200}


def test_a_stack_shows_with_its_events_and_its_alarm_with_its_state(
    scaled: ScaledCloud, console: ConsoleHttp
) -> None:
    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": "console-5xx", "Namespace": "AWS/SageMaker",
        "MetricName": "Invocation5XXErrors", "Statistic": "Sum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold"}}  # fmt: skip
    cloudformation = scaled.client("cloudformation")
    cloudformation.create_stack(
        StackName="console-stack", TemplateBody=json.dumps({"Resources": {"Alarm": alarm}})
    )
    cloudformation.get_waiter("stack_create_complete").wait(StackName="console-stack")
    state = console.state()
    [stack] = [s for s in state["stacks"] if s["StackName"] == "console-stack"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    events = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in stack["StackEvents"]]
    assert ("Alarm", "CREATE_COMPLETE") in events and events[0] == (
        "console-stack",
        "CREATE_COMPLETE",
    )  # newest first, as DescribeStackEvents lists them
    [shown] = [a for a in state["alarms"] if a["AlarmName"] == "console-5xx"]
    assert shown["MetricName"] == "Invocation5XXErrors"
    assert shown["StateValue"] in ("OK", "INSUFFICIENT_DATA", "ALARM")

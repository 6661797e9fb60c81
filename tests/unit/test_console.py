"""The console's pure parts: traffic shares by fleet, the charts' window, its token file."""

from __future__ import annotations

import asyncio
import stat
import string
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from types import SimpleNamespace

import pytest

from cdlab import cli
from cdlab.localcloud.console import charts, views, web
from cdlab.localcloud.sagemaker.router import EndpointRoute, VariantRoute

TOKEN_CHARS = set(string.ascii_letters + string.digits + "-_")


def instance(name: str, alive: bool = True, stopping: bool = False) -> SimpleNamespace:
    return SimpleNamespace(instance_id=name, alive=alive, stopping=stopping, inflight=0)


def test_a_split_route_shows_each_fleet_with_its_share_of_the_traffic() -> None:
    draining = instance("i-2", stopping=True)
    blue = EndpointRoute("e", (VariantRoute("a", 3.0, (instance("i-1"),)),
                               VariantRoute("b", 1.0, (draining,))))  # fmt: skip
    green = EndpointRoute("e", (VariantRoute("c", 1.0, (instance("i-3", alive=False),)),))
    shown = views.serving(EndpointRoute("e", blue.variants, green, 0.2))
    assert [(s["Fleet"], s["VariantName"], round(s["TrafficShare"], 3)) for s in shown] == [
        ("blue", "a", 0.6),
        ("blue", "b", 0.2),
        ("green", "c", 0.2),
    ]
    assert [s["Instances"][0]["Health"] for s in shown] == ["Healthy", "Draining", "Unhealthy"]
    assert views.serving(None) == []


@pytest.mark.parametrize(("scale", "period"), [("60", 1), ("1", 60), ("120", 1), ("10", 6)])
def test_the_charts_period_is_a_cloud_minute_in_whole_seconds(
    monkeypatch: pytest.MonkeyPatch, scale: str, period: int
) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", scale)
    assert charts.period() == period
    start, end = charts.window(1_000_000.75)
    assert end.replace(tzinfo=UTC).timestamp() == 1_000_000  # the flushed minutes only
    assert (end - start).total_seconds() == charts.WINDOW_MINUTES * period
    assert end.microsecond == 0 and end.tzinfo is None


def test_no_flush_yet_means_no_window_and_no_moto_call() -> None:
    metrics = SimpleNamespace(last_flush=None)
    asked = charts.Charts(metrics, moto=None).of({"e": ["v"]})  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever else runs in this one
        answer = thread.submit(asyncio.run, asked).result()
    assert answer["window"] is None and answer["endpoints"] == {}


def test_the_token_is_kept_for_its_home_until_reset_and_only_the_user_can_read(
    tmp_path: Path,
) -> None:
    """A page left open across ``cdlab local down`` and ``up`` carries on with its token; after
    ``cdlab local reset`` the next start makes another."""
    first = web.make_token(tmp_path)
    assert len(first) >= 32 and web.make_token(tmp_path) == first  # the next start's
    assert web.token_file(tmp_path).read_text() == first
    assert stat.S_IMODE(web.token_file(tmp_path).stat().st_mode) == 0o600
    assert web.url(8080, first) == f"http://127.0.0.1:8080/_cdlab/console/?token={first}"
    assert cli.main(["local", "reset", "--home", str(tmp_path)]) == 0
    assert not web.token_file(tmp_path).exists()
    second = web.make_token(tmp_path)
    assert second != first and web.token_file(tmp_path).read_text() == second


@pytest.mark.parametrize("kept", ["short", ""])
def test_a_token_file_others_can_read_or_not_a_token_is_replaced(tmp_path: Path, kept: str) -> None:
    path = web.token_file(tmp_path)
    path.write_text("x" * 40)
    path.chmod(0o644)  # readable by others: no longer the user's secret
    replaced = web.make_token(tmp_path)
    assert replaced != "x" * 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text(kept)  # mode 0600 kept, but not a token
    assert web.make_token(tmp_path) not in (kept, replaced)
    assert TOKEN_CHARS.issuperset(path.read_text()) and len(path.read_text()) >= 32

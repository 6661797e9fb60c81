"""The local console in a real browser, at ``CDLAB_TIME_SCALE=60``: refused without its token;
marked stale while the cloud is down or refuses its token, live again once the cloud is back;
during a canary blue/green update under load both variants show and then only the new one;
under autoscaling the instance count changes on the page, without a reload."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from cdlab import load
from cdlab.localcloud.console import web
from tests.conftest import small_model
from tests.console_http import ConsoleHttp
from tests.integration.scaled import FEATURES, ScaledCloud, scaled_cloud, track_invocations
from tests.polling import poll
from tests.ui.conftest import screenshot

pytestmark = pytest.mark.ui
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


@pytest.fixture(scope="module")
def console(scaled: ScaledCloud) -> ConsoleHttp:
    return ConsoleHttp.of(scaled.cloud)


@contextmanager
def load_on(scaled: ScaledCloud, name: str, rate: float) -> Iterator[list[load.Report]]:
    """Requests to ``name`` at ``rate`` a second for as long as the block runs."""
    stop = threading.Event()
    reports: list[load.Report] = []
    with pytest.MonkeyPatch.context() as patch:
        for key, value in scaled.env.items():
            patch.setenv(key, value)
        bodies = load.sample_bodies(FEATURES, count=64, seed=1)
        worker = threading.Thread(
            target=lambda: reports.append(
                load.run(name, rate=rate, duration=120, bodies=bodies, stop=stop)
            )
        )
        worker.start()
        try:
            yield reports
        finally:
            stop.set()
            worker.join()


def serving(page, endpoint: str) -> Callable[[str], object]:
    card = page.locator(f'[data-endpoint="{endpoint}"]')
    return lambda variant: card.locator(f'[data-testid="serving"][data-variant="{variant}"]')


def invoked(charts: dict) -> list[float]:
    """The minutes with invocations on an endpoint's invocations chart, all variants."""
    series = charts.get("invocations", {}).get("series", {}).values()
    return [v for s in series for _, v in s["points"] if v]


def variant_config(scaled: ScaledCloud, variant: str, seed: int, instances: int) -> str:
    name = f"ui-{variant}-c{next(scaled.names)}"
    scaled.client("sagemaker").create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": scaled.model("ui", small_model(seed, feature_dim=FEATURES)),
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    return name


def test_a_page_without_the_token_is_refused(page, console: ConsoleHttp) -> None:
    address = web.url(console.port, console.token).split("?")[0]
    answer = page.goto(address)
    assert answer is not None and answer.status == 403
    assert "token" in page.inner_text("body")
    assert page.locator("#endpoints").count() == 0


def test_the_page_is_marked_stale_while_the_cloud_is_down_and_live_once_it_is_up(
    page, scaled: ScaledCloud, console: ConsoleHttp
) -> None:
    page.goto(web.url(console.port, console.token))
    banner = page.locator('[data-testid="stale"]')
    live = page.locator("body:not(.stale) #clock", has_text="updated")
    live.wait_for(timeout=WAIT_MS)
    assert banner.is_hidden()

    def shown_stale() -> None:
        banner.wait_for(timeout=WAIT_MS)
        assert "not answering (cdlab local up)" in banner.inner_text()
        assert "showing data from" in banner.inner_text()
        page.locator("body.stale main").wait_for()
        screenshot(page, "console-stale")

    scaled.restart(while_down=shown_stale)  # the same home: the page's token still opens it
    banner.wait_for(state="hidden", timeout=WAIT_MS)
    live.wait_for()
    page.context.add_cookies(  # as a page opened before `cdlab local reset` holds
        [{"name": web.COOKIE, "value": "reset", "domain": "127.0.0.1", "path": web.PREFIX}]
    )
    page.get_by_text("refused this page's token").wait_for(timeout=WAIT_MS)
    assert "cdlab console" in banner.inner_text()


def test_a_blue_green_update_under_load_shows_both_variants_then_only_the_new(
    page, scaled: ScaledCloud, console: ConsoleHttp
) -> None:
    sm = scaled.client("sagemaker")
    name = f"ui-bg-{next(scaled.names)}"
    sm.create_endpoint(EndpointName=name, EndpointConfigName=variant_config(scaled, "v1", 1, 1))
    scaled.wait(name)
    page.goto(web.url(console.port, console.token))
    variant = serving(page, name)
    variant("v1").wait_for(timeout=WAIT_MS)
    with load_on(scaled, name, rate=20) as reports:
        poll(  # a few cloud minutes of traffic on the charts first, as in a demo
            lambda: console.state()["charts"]["endpoints"].get(name, {}),
            until=lambda charts: len(invoked(charts)) >= 4,
            what=f"the invocations of {name} on its chart",
        )
        page.locator(f'[data-endpoint="{name}"] [data-chart="invocations"] canvas').wait_for()
        canary = {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 300,
        }  # fmt: skip  (five cloud minutes: 5 s here)
        sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=variant_config(scaled, "v2", 2, 2),
            DeploymentConfig={"BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": canary, "TerminationWaitInSeconds": 0}},
        )  # fmt: skip
        variant("v2").wait_for(timeout=WAIT_MS)
        assert variant("v1").count() == 1  # both fleets serve during the canary
        assert variant("v2").get_attribute("data-fleet") == "green"
        page.locator(f'[data-endpoint="{name}"] [data-testid="update"]').wait_for()
        shot = screenshot(page, "console-blue-green")
        variant("v1").wait_for(state="detached", timeout=WAIT_MS)
        assert variant("v2").get_attribute("data-fleet") == "blue"  # the new fleet is it now
        assert variant("v2").locator('[data-testid="instance-count"]').inner_text() == "2"
    [report] = reports
    assert report.sent > 0 and report.lost == 0, report.summary()
    assert shot.stat().st_size > 10_000


def test_autoscaling_changes_the_instance_count_on_the_page(
    page, scaled: ScaledCloud, console: ConsoleHttp
) -> None:
    name = scaled.endpoint("ui-scale", small_model(3, feature_dim=FEATURES))
    track_invocations(scaled.client("application-autoscaling"), name, 4, 20)
    page.goto(web.url(console.port, console.token))
    count = page.locator(
        f'[data-endpoint="{name}"] [data-testid="current-count"][data-variant="AllTraffic"]'
    )
    count.wait_for(timeout=WAIT_MS)
    assert count.inner_text() == "1"
    with load_on(scaled, name, rate=50):
        page.wait_for_function(
            """([endpoint]) => {
              const cell = document.querySelector(`[data-endpoint="${endpoint}"] ` +
                '[data-testid="current-count"][data-variant="AllTraffic"]');
              return cell && Number(cell.textContent) >= 2;
            }""",
            arg=[name],
            timeout=WAIT_MS,
        )
        scaling = page.locator('[data-testid="scaling"]')
        scaling.get_by_text(f"endpoint/{name}/variant/AllTraffic").first.wait_for()
        path = screenshot(page, "console-autoscaling")
    assert path.stat().st_size > 10_000

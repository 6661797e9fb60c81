"""JupyterLab as a participant uses it, in Chromium: started as ``make lab`` starts it (the local
cloud up, the kernels' AWS clients pointed at it, at the workshop's time scale), notebook 03
opened, every cell run from the Run menu, then checked on the page: no error output, the
``!aws`` cells printed the CLI's answers, and a plot drawn in the same kernel shows as an image.

JupyterLab serves a copy of notebooks/ (it saves what it runs), on a port of its own.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdlab.localcloud import control
from tests.conftest import free_port
from tests.polling import poll
from tests.ui.conftest import ROOT, screenshot

pytestmark = pytest.mark.ui
NOTEBOOK = "notebooks/03_creating_an_endpoint.ipynb"
BIN = Path(sys.executable).parent
RUN_MS = 600_000  # the notebook trains a model (or reuses one) and creates an endpoint
STDERR = "application/vnd.jupyter.stderr"
# Every cell in the page, as JupyterLab draws it: not only those in view
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}  # and no news pop-up over the screenshot


@dataclass(frozen=True)
class Lab:
    port: int
    token: str
    root: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"


def _answers(lab: Lab) -> bool:
    try:
        with urllib.request.urlopen(lab.url("api/status"), timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``make lab``'s steps: ``cdlab local up``, the client environment, ``jupyter lab``."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    for name, settings in SETTINGS.items():
        (root / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "settings" / name).write_text(json.dumps(settings))
    home, cloud_port = root / "cdlab-home", free_port()
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "CDLAB_TIME_SCALE": "60", "CDLAB_HOME": str(home),
           "CDLAB_PORT": str(cloud_port), "PATH": path}  # fmt: skip
    subprocess.run([BIN / "cdlab", "local", "up"], env=env, check=True, timeout=120)
    env |= control.client_environment(home, cloud_port)
    env |= {"JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces")}  # fmt: skip
    started = Lab(free_port(), secrets.token_hex(16), root)
    command = [BIN / "jupyter", "lab", "--no-browser", f"--port={started.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={started.token}",
               f"--notebook-dir={root}"]  # fmt: skip
    command += ["--allow-root"] if os.getuid() == 0 else []
    with open(root / "jupyter.log", "wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=root)
    try:
        poll(lambda: _answers(started), timeout=60, what="JupyterLab to answer")
        yield started
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        control.down(home)


def choose_the_kernel_if_asked(page) -> None:
    """JupyterLab may ask which kernel to start (a race of its own at first open): take the
    one it offers, the notebook's Python 3, as a participant would."""
    from playwright.sync_api import TimeoutError as NotShown

    try:
        page.locator(".jp-Dialog").get_by_role("button", name="Select").click(timeout=10_000)
    except NotShown:
        return


def run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def prompts(page) -> list[str]:
    return page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()


def wait_for_idle_kernel(page, timeout_ms: int) -> None:
    """No cell is running or waiting to run (a failed cell stops a run), and the kernel is idle."""
    page.wait_for_function(
        """() => {
          const cells = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
          const started = cells.length && /[0-9]/.test(cells[0].textContent);
          const queued = cells.some((p) => p.textContent.includes('*'));
          const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
          return started && !queued && status?.getAttribute('data-status') === 'idle';
        }""",
        timeout=timeout_ms,
        polling=500,
    )


def cell_output(page, command: str) -> str:
    """The output of the one cell whose code contains ``command``."""
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".cm-content", has_text=command))
    return cell.locator(".jp-OutputArea").inner_text()


def test_a_participant_runs_notebook_03_in_jupyterlab(page, lab: Lab) -> None:
    page.goto(lab.url(f"lab/tree/{NOTEBOOK}"))
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=120_000)
    choose_the_kernel_if_asked(page)
    page.wait_for_function(
        "() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
        "?.getAttribute('data-status') === 'idle'",
        timeout=120_000,
    )
    run_all(page)
    try:
        wait_for_idle_kernel(page, RUN_MS)
    finally:
        screenshot(page, "jupyterlab-notebook-03-run")  # also what a run that hangs shows

    errors = page.locator(f'.jp-OutputArea-output[data-mime-type="{STDERR}"]')
    assert [t for t in errors.all_inner_texts() if "Error" in t or "Traceback" in t] == []
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts(page)), prompts(page)
    assert "ModelArn" in cell_output(page, "aws sagemaker create-model")
    assert "EndpointConfigArn" in cell_output(page, "aws sagemaker create-endpoint-config")
    assert "EndpointArn" in cell_output(page, "aws sagemaker create-endpoint --endpoint-name")
    assert "InvokedProductionVariant" in cell_output(page, "aws sagemaker-runtime invoke-endpoint")

    # A plot in the same kernel, typed as a participant would: JupyterLab shows it as an image.
    last = page.locator(".jp-Notebook .jp-Cell").last
    last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")  # edit the new cell
    page.keyboard.type(
        "import matplotlib.pyplot as plt\n"
        "table['match'].astype(int).plot(title='match per rating'); plt.show()"
    )
    page.keyboard.press("Control+Enter")
    image = page.locator('.jp-OutputArea-output[data-mime-type="image/png"] img').last
    image.wait_for(timeout=60_000)
    size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] > 100 and size[1] > 100, size
    wait_for_idle_kernel(page, 60_000)
    assert (
        page.locator(".jp-Notebook .jp-Cell").last.locator(f'[data-mime-type="{STDERR}"]').count()
        == 0
    )
    image.scroll_into_view_if_needed()
    path = screenshot(page, "jupyterlab-notebook-03")
    assert path.stat().st_size > 10_000

"""The demo's report opened in a real browser: Debian's headless Chromium, driven by ChromeDriver through
Selenium, on the file:// URL. Every chart draws, the console shows no error, nothing is asked of the
network, and a screenshot of the whole page is kept: in the test's folder, in ``test-artifacts/report.png``
and, when ``CM_REPORT_SCREENSHOT`` names a path (``docs/images/report.png``), there too.

Skipped without Chromium on a developer's machine; with ``CI`` set, a missing Chromium fails (``.ci/run``
installs it)."""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("dbt.adapters.duckdb", reason="the dbt extra: pip install -e '.[dbt]'")

from commands.test_cm_source_command import cm_source  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow  # a whole demo load, a dbt build and a browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# The machine's network may be closed: without these Chromium waits on connections it tries at start.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
CHARTS_DRAWN = """
const charts = [...document.querySelectorAll('.plotly-graph-div')];
return charts.map(chart => chart.querySelector('.main-svg') !== null
    && chart.querySelectorAll('.plot .trace, .barlayer .trace, .scatterlayer .trace').length > 0);
"""


def browser_binaries() -> tuple[Path, Path]:
    """Chromium and ChromeDriver, or a skip (a failure under CI, where .ci/run installs them)."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        message = f"no {' and no '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's report, as a new user makes it: ``cm-source load --demo --models``, ``cm-source report --demo``."""
    browser_binaries()
    folder = tmp_path_factory.mktemp("report_browser")
    loaded = cm_source("load", "--demo", "--models", "--quiet", cwd=folder)
    assert loaded.returncode == 0, loaded.stderr
    reported = cm_source("report", "--demo", cwd=folder)
    assert reported.returncode == 0, reported.stderr
    return Path(reported.stdout.strip())


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    chromium, chromedriver = browser_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(chromedriver)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested(driver: webdriver.Chrome) -> list[str]:
    """Every address the page asked for, from the DevTools network events in the performance log."""
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"]


def full_page_png(driver: webdriver.Chrome) -> bytes:
    """A screenshot of the whole page, not only the window, through DevTools."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"])


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def keep(png: bytes, tmp_path: Path) -> list[Path]:
    """The screenshot in the test's folder, in test-artifacts/ (the run's artifact) and where
    ``CM_REPORT_SCREENSHOT`` says (the README's picture, docs/images/report.png)."""
    places = [tmp_path / "report.png", REPO / "test-artifacts" / "report.png"]
    if os.environ.get("CM_REPORT_SCREENSHOT"):
        places.append(REPO / os.environ["CM_REPORT_SCREENSHOT"])
    for place in places:
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_bytes(png)
    return places


def test_every_chart_draws_offline_without_an_error(report: Path, browser: webdriver.Chrome, tmp_path: Path) -> None:
    requested(browser)  # what the browser asked for before the page (its own start page) is not the page's
    browser.get(report.as_uri())
    drawn = WebDriverWait(browser, 30).until(
        lambda driver: (lambda state: state if state and all(state) else False)(driver.execute_script(CHARTS_DRAWN))
    )
    sections = browser.execute_script("return document.querySelectorAll('section').length")
    assert len(drawn) == sections == 5

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    asked = requested(browser)
    assert report.as_uri() in asked
    assert [url for url in asked if url.lower().startswith(("http:", "https:", "ws:", "wss:", "ftp:"))] == []

    png = full_page_png(browser)
    width, height = png_size(png)
    assert width >= 1200 and height > 3000  # the whole page, not the 900-pixel window
    for place in keep(png, tmp_path):
        assert place.read_bytes() == png

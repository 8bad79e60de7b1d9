"""The status board in a real browser: headless Chromium (Debian's, through its
chromedriver) against make run's stack (Azurite, the demo tenant, the local Functions host
with a function key and job actions on), polled once. The page loads with no console error and no CSP
violation, shows every demo item with the right health word, filters, opens an item's
detail with its history, needs the key, and every link is reachable with the keyboard.
Screenshots of the board and of a detail view are written to ``.artifacts/`` (and, with
UPDATE_SCREENSHOTS=1, to ``docs/``, where the README shows them)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.azurite import Azurite, child_failures_fail
from tests.support.environment import clean_env
from tools.processes import REPO, Child, free_port, storage_names

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = REPO / ".artifacts"
START_TIMEOUT = 60.0
# What a headless Chromium needs on a machine with no network beyond loopback, run as root.
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1500",
)  # fmt: skip


class BoardStack:
    def __init__(self, url: str, key: str, master: str) -> None:
        self.url, self.key = url, key
        self.api = httpx.Client(base_url=url, headers={"x-functions-key": key}, timeout=15)
        self.admin = httpx.Client(base_url=url, headers={"x-functions-key": master}, timeout=15)

    def board_url(self, **query: str) -> str:
        return f"{self.url}/api/board?" + "&".join(
            f"{k}={v}" for k, v in {**query, "code": self.key}.items()
        )

    def rows(self) -> list[dict[str, Any]]:
        return self.api.get("/api/statuses", params={"$top": "999"}).json()["value"]


@pytest.fixture(scope="module")
def board_stack(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[BoardStack]:
    """make run's stack, on free ports: the demo tenant and the host with make run's demo
    settings and a function key, after one complete poll of every source."""
    logs = tmp_path_factory.mktemp("board")
    tenant = Child(
        "graph", [sys.executable, "-m", "tools.graph_tenant", "--demo", "--port", "0"],
        env=clean_env(), log_dir=logs,
    )  # fmt: skip
    host: Child | None = None
    try:
        with child_failures_fail():
            line = tenant.wait_for_line(lambda t: t.startswith("GRAPH_TENANT_URL="), START_TIMEOUT)
        port, key, master = free_port(), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        env = clean_env() | {
            "AzureWebJobsStorage": azurite.connection_string,
            **storage_names(f"Board{uuid.uuid4().hex[:12]}"),
            "GRAPH_BASE_URL": line.partition("=")[2].strip(), "GRAPH_AUTH": "none",
            "POLL_SCHEDULE": "0 */5 * * * *",
            "INDUSTRY_DATA_RUNS_ENABLED": "true", "PROVISIONING_LOGS_ENABLED": "true",
            "PROVISIONING_ACTIONS_ENABLED": "true",
            "FUNCTIONS_FUNCTION_KEY": key, "FUNCTIONS_MASTER_KEY": master,
        }  # fmt: skip
        host = Child(
            "host", [sys.executable, "-m", "tools.local_host", "--port", str(port)],
            env=env, log_dir=logs,
        )  # fmt: skip
        with child_failures_fail():
            host.wait_for_line(lambda text: "Host started" in text, START_TIMEOUT)
        stack = BoardStack(f"http://127.0.0.1:{port}", key, master)
        _poll_every_source(stack)
        yield stack
    finally:
        if host is not None:
            host.stop()
        tenant.stop()


def _poll_every_source(stack: BoardStack) -> None:
    assert stack.admin.post("/admin/functions/poll_sync_statuses", json={"input": ""}).is_success
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sources = httpx.get(f"{stack.url}/api/health").json().get("sources", [])
        if sources and all((s.get("lastPoll") or {}).get("finishedDateTime") for s in sources):
            return
        time.sleep(0.2)
    pytest.fail("the first poll did not finish within 60 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    assert not missing, (
        f"{missing} missing: `make install` installs Debian's chromium and chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def page_problems(driver: Any) -> list[str]:
    """Console errors and CSP violations since the last call (Chromium logs both)."""
    return [
        entry["message"] for entry in driver.get_log("browser")
        if entry["level"] in ("SEVERE", "WARNING") or "Content Security Policy" in entry["message"]
    ]  # fmt: skip


def shown_rows(driver: Any) -> list[tuple[str, str, str]]:
    """(name, health word, data-health) of every row on the page."""
    from selenium.webdriver.common.by import By

    return [
        (
            row.find_element(By.CSS_SELECTOR, "td:nth-child(2) a").text,
            row.find_element(By.CSS_SELECTOR, "span.health").text,
            row.get_attribute("data-health"),
        )
        for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-health]")
    ]


def board_items(stack: BoardStack) -> list[dict[str, Any]]:
    """What the board shows of /api/statuses: Industry Data runs as one row per flow (the
    demo's runs are one flow), its latest run; every other item as it is."""
    every = stack.rows()
    runs = sorted(
        (r for r in every if r["source"] == "industryDataRuns"),
        key=lambda r: r.get("sinceDateTime") or "",
    )
    assert len(runs) > 1
    return [r for r in every if r["source"] != "industryDataRuns"] + runs[-1:]


def save(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(ARTIFACTS / name, REPO / "docs" / name)


def test_the_board_shows_every_demo_item_with_its_health_word(
    board_stack: BoardStack, browser: Any
) -> None:
    browser.get(board_stack.board_url())
    assert browser.title.startswith("SyncStatus:")
    assert page_problems(browser) == []
    shown = shown_rows(browser)
    expected = board_items(board_stack)
    assert len(shown) == len(expected) >= 15
    assert sorted((n, h) for n, h, _ in shown) == sorted(
        (r["displayName"], r["health"]) for r in expected
    )
    assert all(word == health for _name, word, health in shown)  # never colour alone
    order = {"error": 0, "warning": 1, "unknown": 2, "healthy": 3}
    ranks = [order[health] for *_rest, health in shown]
    assert ranks == sorted(ranks)  # worst first
    from selenium.webdriver.common.by import By

    for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr[data-health]"):
        segments = row.find_elements(By.CSS_SELECTOR, "svg.strip rect")
        assert segments, "every row has its 30-day strip"
        last = segments[-1]  # now: the row's own health, titled
        assert last.get_attribute("class") == row.get_attribute("data-health")
        assert last.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    save(browser, "board.png")


def test_filters_are_links_that_narrow_the_board(board_stack: BoardStack, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(board_stack.board_url())
    browser.find_element(By.PARTIAL_LINK_TEXT, "error (").click()
    shown = shown_rows(browser)
    errors = [r for r in board_items(board_stack) if r["health"] == "error"]
    assert shown and {h for *_r, h in shown} == {"error"} and len(shown) == len(errors)
    assert parse_qs(urlsplit(browser.current_url).query)["health"] == ["error"]
    browser.find_element(By.LINK_TEXT, "Entra ID provisioning jobs").click()
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["health"] == ["error"] and query["source"] == ["synchronizationJobs"]
    job_errors = [
        r
        for r in board_items(board_stack)
        if r["health"] == "error" and r["source"] == query["source"][0]
    ]
    narrowed = shown_rows(browser)
    assert job_errors and len(narrowed) == len(job_errors) < len(shown)
    assert {name for name, *_rest in narrowed} == {r["displayName"] for r in job_errors}
    assert page_problems(browser) == []


def test_an_items_detail_shows_its_history_and_document(
    board_stack: BoardStack, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(board_stack.board_url(health="error"))
    first = browser.find_element(By.CSS_SELECTOR, "tbody tr[data-health] td:nth-child(2) a")
    name = first.text
    first.click()
    assert browser.find_element(By.TAG_NAME, "h1").text == name
    history = browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    assert history and "(new)" in history[-1].text  # oldest last: when it was first seen
    assert browser.find_element(By.TAG_NAME, "pre").text.startswith("{")
    assert page_problems(browser) == []
    save(browser, "board-item.png")
    assert "code=" in browser.find_element(By.LINK_TEXT, "Back to the board").get_attribute("href")


def test_the_board_needs_the_key(board_stack: BoardStack) -> None:
    assert httpx.get(f"{board_stack.url}/api/board").status_code == 401
    assert httpx.get(f"{board_stack.url}/api/board?code=wrong").status_code == 401
    assert httpx.get(board_stack.board_url()).status_code == 200


def test_every_link_is_reachable_with_the_keyboard(board_stack: BoardStack, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(board_stack.board_url())
    links = browser.find_elements(By.TAG_NAME, "a")
    ids = [link.id for link in links]  # each element, in document order (hrefs repeat)
    reached: list[str] = []
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    for _ in range(len(links) + 5):
        focused = browser.switch_to.active_element
        if focused.tag_name != "a" or (reached and focused.id == reached[0]):
            break  # past the last link (focus leaves the page, or wraps)
        reached.append(focused.id)
        focused.send_keys(Keys.TAB)
    assert reached == ids  # every link, once each, in the order the page shows them


# -- responsive: a card per item on narrow screens, the table on wide ones -----------------

FIRST_SCREEN = """
const cells = ['.c-health', '.c-name', '.c-since', '.c-why'];
const height = window.innerHeight, problems = [];
if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
  problems.push('horizontal scroll: ' + document.documentElement.scrollWidth);
for (const row of document.querySelectorAll('tbody tr[data-health]')) {
  const top = row.getBoundingClientRect().top;
  for (const cell of cells) {
    const found = row.querySelector(cell);
    const box = found && found.getBoundingClientRect();
    if (!box || box.width < 40 && cell !== '.c-since' && cell !== '.c-health')
      problems.push(cell + ' too narrow in ' + row.textContent.slice(0, 60));
    else if (box.bottom - top > height)
      problems.push(cell + ' below the first screen of ' + row.textContent.slice(0, 60));
  }
}
return problems;
"""


@pytest.mark.parametrize("width", [390, 768, 1400])
def test_the_board_is_usable_at_every_width(
    board_stack: BoardStack, browser: Any, width: int
) -> None:
    """No horizontal scroll, and every row's health, name, since and why within the first
    screen of its card or row (no column collapsed)."""
    from selenium.webdriver.common.by import By

    browser.set_window_size(width, 1000)
    try:
        browser.get(board_stack.board_url())
        assert browser.execute_script(FIRST_SCREEN) == []
        head = browser.find_element(By.CSS_SELECTOR, "thead")
        assert head.is_displayed() == (width >= 1180)  # the table on wide screens only
        assert "need attention" in browser.title or "fine" in browser.title
        assert page_problems(browser) == []
        save(browser, f"board-{width}.png")
        first = browser.find_element(By.CSS_SELECTOR, "tbody tr[data-health] .c-name a")
        first.click()
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= "
            "document.documentElement.clientWidth + 1"
        )
    finally:
        browser.set_window_size(1400, 1500)


def test_the_header_separates_attention_from_polling(board_stack: BoardStack, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(board_stack.board_url())
    rows = board_items(board_stack)
    needing = sum(1 for r in rows if r["health"] in ("error", "warning"))
    attention = browser.find_element(By.CSS_SELECTOR, ".attention").text
    assert attention.startswith(f"{needing} of ") and "need attention" in attention
    assert f"{needing} of " in browser.title
    assert browser.find_element(By.CSS_SELECTOR, ".polling").text.startswith("Polling")


def test_an_items_page_says_the_next_step_and_a_flow_lists_its_runs(
    board_stack: BoardStack, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(board_stack.board_url(source="synchronizationJobs", health="error"))
    # The item's row (its open incident, listed first, links to the incident's page).
    browser.find_element(
        By.XPATH, "//tr[@data-health]/td[@class='c-name']/a[contains(., 'Canvas LMS')]"
    ).click()
    steps = browser.find_element(By.CSS_SELECTOR, "ul.steps").text
    assert "Entra retries at " in steps
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".steps a")]
    assert hrefs and all(h.startswith("https://") and ".microsoft.com/" in h for h in hrefs)
    browser.get(board_stack.board_url(source="industryDataRuns"))
    browser.find_element(By.CSS_SELECTOR, "tbody tr[data-health] .c-name a").click()
    runs = browser.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")
    assert len(runs) == len([r for r in board_stack.rows() if r["source"] == "industryDataRuns"])
    assert page_problems(browser) == []


def test_a_job_is_restarted_from_its_page_by_the_form(
    board_stack: BoardStack, browser: Any
) -> None:
    """The browser sends the form (CSP form-action 'self' lets it, and the redirect after
    it) and lands back on the item's page, which says the action was sent."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(board_stack.board_url(source="synchronizationJobs"))
    browser.find_element(By.PARTIAL_LINK_TEXT, "Dropbox Business").click()  # healthy, Active
    form = browser.find_element(By.CSS_SELECTOR, "form.act")
    form.find_element(By.CSS_SELECTOR, "input[value=Watermark]").click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda driver: "done=restart" in driver.current_url)
    assert "Restart sent to Graph" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert parse_qs(urlsplit(browser.current_url).query)["code"] == [board_stack.key]
    assert page_problems(browser) == []
    (job,) = [r for r in board_stack.rows() if r["displayName"].startswith("Dropbox Business")]
    changes = board_stack.api.get(f"/api/statuses/synchronizationJobs/{job['id']}/history")
    action = changes.json()["value"][0]
    assert action["kind"] == "action" and action["action"]["by"] == "function key (board)"
    assert action["action"]["criteria"] == {"resetScope": "Watermark"}

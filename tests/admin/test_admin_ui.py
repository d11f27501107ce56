"""An operator edits a key's governance level in LiteLLM's admin UI, in a real browser.

Debian's chromium (`make admin-deps`), driven by Playwright for Python; Playwright's own
browser download is not used. Screenshots are kept in `test-artifacts/admin/` (not committed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.admin.conftest import ARTIFACTS, SQLI, passes_as_would_have_blocked
from tests.support.dev_agent import DevAgent
from tests.support.management import Management, unique
from tests.support.proxy import MASTER_KEY, Proxy

pytestmark = pytest.mark.admin

CHROMIUM = "/usr/bin/chromium"
# Headless, as root, on a machine with no network but loopback: no background traffic.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_TIMEOUT_MS = 90_000  # the first page load compiles a large bundle on a busy 2-core machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def log_in(page: Page, proxy: Proxy) -> None:
    page.goto(f"{proxy.url}/ui")
    page.get_by_placeholder("Enter your username").fill("admin")
    page.get_by_placeholder("Enter your password").fill(MASTER_KEY)
    shot(page, "01-login")
    page.get_by_role("button", name="Login", exact=True).click()
    page.get_by_role("link", name="Virtual Keys").first.wait_for()


def edit_key_metadata(page: Page, alias: str, metadata: dict[str, str]) -> None:
    """Virtual Keys -> the key -> Settings -> Edit Settings -> Metadata -> Save Changes."""
    page.get_by_role("link", name="Virtual Keys").first.click()
    row = page.get_by_role("row").filter(has_text=alias)
    row.first.get_by_role("button").first.click()
    page.get_by_role("tab", name="Settings").click()
    page.get_by_role("button", name="Edit Settings").click()
    field = page.get_by_label("Metadata", exact=True)
    field.fill(json.dumps(metadata, indent=2))
    field.evaluate("element => element.scrollIntoView({block: 'center'})")
    shot(page, "02-key-edit-metadata")
    page.get_by_role("button", name="Save Changes").click()
    page.get_by_text("Key updated successfully").first.wait_for()
    shot(page, "03-key-saved")


def test_a_key_set_to_audit_in_the_admin_ui_passes_a_blocked_prompt_as_would_have_blocked(
    proxy: Proxy, admin: Management, agent: DevAgent, page: Page
) -> None:
    alias = unique("ui-key")
    key = admin.generate_key(key_alias=alias, metadata={"axonflow_enforcement_mode": "enforce"})
    assert proxy.chat(SQLI, api_key=key).status_code == 400

    log_in(page, proxy)
    edit_key_metadata(page, alias, {"axonflow_enforcement_mode": "audit"})

    stored = admin.key_info(key).json()["info"]["metadata"]
    assert stored["axonflow_enforcement_mode"] == "audit"
    passes_as_would_have_blocked(proxy, agent, key)

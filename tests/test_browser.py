"""The page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROOT
from test_ui import AERLUME_A, AERLUME_Q, AERLUME_TITLE, AERLUME_URL, EVIL_TITLE, scripted, serve

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, monkeypatch):
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def ask(page, question: str) -> None:
    page.locator("#nr-question textarea").fill(question)
    page.locator("#nr-ask").click()


def test_page_answers_with_linked_source_cards_and_stays_offline(demo, page):
    with serve(scripted(demo, AERLUME_A)) as url:
        page.goto(url)
        page.locator("#nr-stats").get_by_text("20 articles").wait_for()
        ask(page, AERLUME_Q)
        card = page.locator("#nr-chat .nr-card").first
        card.wait_for()
        assert card.locator(".nr-outlet").inner_text() == "Harbour Post"
        assert card.locator(".nr-date").inner_text() == "2025-03-07"
        headline = card.locator(f'a[href="{AERLUME_URL}"]')
        assert headline.inner_text() == AERLUME_TITLE
        assert card.get_by_text("✓ verified").is_visible()
        said, shown = page.locator("#nr-chat .nr-text").all()  # the model's answer, then its source's words
        assert said.inner_text() == AERLUME_A
        assert shown.inner_text().startswith("Harbour Post (2025-03-07): Pilots at low-cost airline Aerlume")
        said.locator("a.nr-cite").click()  # [1] leads to its card
        assert urlsplit(page.url).fragment == card.get_attribute("id") == "nr-0-1"
        assert page.locator("#nr-question textarea").input_value() == ""

        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / "ui.png"), full_page=True)

        page.locator("#nr-new").click()
        page.locator("#nr-chat .nr-card").wait_for(state="detached")
    assert page.errors == []
    hosts = {urlsplit(u).hostname for u in page.requested if not u.startswith(("data:", "blob:"))}
    assert hosts <= LOCAL_HOSTS, hosts


def test_malicious_article_is_shown_as_text(demo, page, tmp_path):
    evil = tmp_path / "evil.json"
    evil.write_text(
        json.dumps(
            {
                "title": EVIL_TITLE,
                "source": "<script>window.__pwned=2</script>Zeta Times",
                "url": "javascript:alert(1)",
                "published_at": "2025-03-30",
                "body": "Zorblat Industries recalled 5,000 kettles on Sunday after "
                "reports that their handles overheat. The company said refunds would be paid within a month.",
            }
        )
    )
    assistant = scripted(demo, "Zorblat Industries recalled 5,000 kettles [1].")
    with serve(assistant) as url:
        page.goto(url)
        page.locator("#nr-upload input[type=file]").set_input_files(str(evil))
        page.locator("#nr-ingest").click()
        page.locator("#nr-report").get_by_text("1 new, 0 updated").wait_for()
        ask(page, "How many kettles did Zorblat Industries recall?")
        card = page.locator("#nr-chat .nr-card").first
        card.wait_for()
        assert card.locator(".nr-headline").get_by_text(EVIL_TITLE).is_visible()
        assert card.locator(".nr-outlet").inner_text() == "<script>window.__pwned=2</script>Zeta Times"
        assert (
            page.locator("#nr-stats")
            .get_by_text("<script>window.__pwned=2</script>Zeta Times (1)")
            .is_visible()
        )
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator('a[href^="javascript:"]').count() == 0
        assert page.locator("#nr-chat img").count() == 0
    assert f"[1] {EVIL_TITLE} (<script>" in assistant.llm.prompts[0][-1]["content"]  # it was the cited source


def test_filters_and_follow_ups_are_shown_with_each_answer(demo, page):
    with serve(demo) as url:
        page.goto(url)
        page.locator("#nr-stats").get_by_text("20 articles").wait_for()
        page.locator("#nr-outlets input").click()
        page.get_by_role("option", name="Harbour Post").click()
        page.keyboard.press("Escape")
        page.locator("#nr-since input").fill("2025-03-01")
        page.locator("#nr-since input").press("Enter")
        ask(page, AERLUME_Q)
        page.locator("#nr-chat .nr-card").first.wait_for()
        page.locator("#nr-question textarea").fill("What did the union want?")
        page.locator("#nr-question textarea").press("Enter")
        page.locator("#nr-chat .nr-card#nr-1-1").wait_for()
        assert page.locator("#nr-chat p.nr-meta").all_inner_texts() == [
            "Filters: outlets: Harbour Post; since 2025-03-01 · up to 4 sources",
            f"Searched: “{AERLUME_Q} What did the union want?” · "
            "Filters: outlets: Harbour Post; since 2025-03-01 · up to 4 sources",
        ]
    assert page.errors == []

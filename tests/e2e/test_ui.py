"""The page as a shopper sees it (issue 20, items 2, 3, 5, 8, 9, 11), in headless Debian chromium.

One app serves a small slice of the fashion catalog with photos (its photo index builds in
seconds) as its first catalog, beside demo and fashion in the picker; a second runs `--kiosk` on
the demo catalog. Without the fashion data the first app serves demo (no picker: those tests
skip). Screenshots of each journey go to test-artifacts/ui-*.png."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

import pytest

from tests.e2e.test_browser import (open_page, upload_photo, ARTIFACTS, ROOT, BOT, CARDS, FASHION, PREPARING, SLOW_MS, TIMEOUT_MS,  # noqa: F401
                                    _photo_slice, _require_browser, _serve, _wait_bot_count, bot_messages,
                                    browser, card_ids, chips, send, wait_for_cards)

QUERY = "black watch" if FASHION else "grey sofa"
PHONE = {"width": 390, "height": 844}
PHOTO_READY_S = 240


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    """A fresh index folder with the demo catalog built (the apps switch to it mid-test)."""
    _require_browser()
    folder = tmp_path_factory.mktemp("ui-indexes")
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(folder), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    subprocess.run([sys.executable, "-m", "assistant", "build", "--catalog", "demo"], cwd=ROOT, env=env,
                   check=True, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return folder


@pytest.fixture(scope="module")
def ui_app(tmp_path_factory, index_dir):
    """(url, first catalog name, a catalog photo or None)."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("ui-app")
    if not FASHION:
        for url in _serve("demo", index_dir, ARTIFACTS / "app-server-ui.log",
                          {"ASSISTANT_HISTORY_DB": str(tmp / "h.sqlite3")}):
            yield url, "demo", None
        return
    catalog, photo = _photo_slice(tmp)
    for url in _serve(str(catalog), index_dir, ARTIFACTS / "app-server-ui.log",
                      {"ASSISTANT_HISTORY_DB": str(tmp / "h.sqlite3")}):
        yield url, catalog.stem, photo


@pytest.fixture(scope="module")
def kiosk_app(tmp_path_factory, index_dir):
    """(url, history db) of `assistant serve --kiosk` on demo, idle reset after 12 s."""
    _require_browser()
    db = tmp_path_factory.mktemp("kiosk") / "history.sqlite3"
    for url in _serve("demo", index_dir, ARTIFACTS / "app-server-kiosk.log",
                      {"ASSISTANT_KIOSK_IDLE_SECONDS": "12", "ASSISTANT_HISTORY_DB": str(db)},
                      extra_args=("--kiosk",)):
        yield url, db


def _page(browser, url: str, viewport: dict | None = None, **options):
    """A page at the desktop size the issue names (1366x900) unless told otherwise."""
    return open_page(browser, url, viewport or {"width": 1366, "height": 900}, **options)


def shot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def picker_value(page) -> str:
    return page.locator("#catalog-picker input").input_value()


def choose_catalog(page, name: str) -> None:
    page.locator("#catalog-picker input").click()
    page.get_by_role("option", name=name, exact=True).click()
    _wait_bot_count(page, 1)
    assert f"Now searching the '{name}' catalog" in bot_messages(page)[-1]


def settle(page, ms: int = 1500) -> None:
    """Let any event a gesture started reach the server and come back."""
    page.wait_for_timeout(ms)
    try:
        page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='status-tracker']\")]"
                               ".every(e => e.classList.contains('hide'))", timeout=10_000)
    except Exception:  # noqa: BLE001
        pass


def luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(float(x)) for x in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    parse = lambda s: [float(x) for x in re.findall(r"[\d.]+", s)]  # noqa: E731
    a, b = luminance(parse(fg)), luminance(parse(bg))
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


# --- item 2: the catalog picker ------------------------------------------------------------------

def test_opening_the_catalog_picker_and_leaving_keeps_the_chat(browser, ui_app):
    url, first, _ = ui_app
    with _page(browser, url) as page:
        if not page.locator("#catalog-picker").is_visible():
            pytest.skip("one catalog only: no picker")
        send(page, QUERY)
        wait_for_cards(page, 3)
        before_chat, before_cards, before_chips = bot_messages(page), card_ids(page), chips(page)
        page.locator("#catalog-picker input").click()  # open it ...
        page.wait_for_timeout(300)
        page.locator("h2").first.click()  # ... and click away
        settle(page)
        page.locator("#catalog-picker input").click()  # tab through it
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        settle(page)
        assert bot_messages(page) == before_chat, "the chat was changed by opening the picker"
        assert card_ids(page) == before_cards and chips(page) == before_chips
        assert picker_value(page) == first
        shot(page, "ui-picker-kept.png")


# --- item 3: End session after a catalog switch ----------------------------------------------------

def test_end_session_puts_the_picker_back_on_the_catalog_it_searches(browser, ui_app):
    url, first, _ = ui_app
    with _page(browser, url) as page:
        if not page.locator("#catalog-picker").is_visible():
            pytest.skip("one catalog only: no picker")
        choose_catalog(page, "demo")
        send(page, "grey sofa")
        wait_for_cards(page, 1)
        page.locator("#end-session").click()
        page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=CARDS)
        page.wait_for_function("v => document.querySelector('#catalog-picker input').value === v", arg=first)
        send(page, "black watch")
        wait_for_cards(page, 1)
        titles = " ".join(page.locator(f"{CARDS} .title").all_inner_texts()).lower()
        assert "watch" in titles and "sofa" not in titles, titles[:300]
        shot(page, "ui-end-session-picker.png")


# --- item 5: phone ----------------------------------------------------------------------------------

def test_phone_shows_the_first_card_after_a_query_and_big_controls(browser, ui_app):
    with _page(browser, ui_app[0], PHONE, is_mobile=True, has_touch=True, device_scale_factor=1) as page:
        send(page, QUERY)
        wait_for_cards(page, 1)
        # the page scrolls to the results once they are drawn, and keeps them in view while it settles
        for _ in range(25):
            box = page.locator(CARDS).first.bounding_box()
            if box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]:
                break
            page.wait_for_timeout(200)
        page.wait_for_timeout(1000)  # and they are still there a moment later
        box = page.locator(CARDS).first.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], \
            f"the first card is at {box} in a {PHONE} viewport"
        said = page.locator("#cards .said").bounding_box()  # the reply is on this screen too
        assert said and said["y"] >= 0 and said["y"] + said["height"] <= PHONE["height"], said
        shot(page, "ui-phone-results.png", full_page=False)
        for sel in ("#send", "#forget", "#end-session"):
            height = page.locator(sel).bounding_box()["height"]
            assert height >= 44, f"{sel} is {height} px tall"


# --- item 8: product detail and compare -------------------------------------------------------------

def test_cards_open_a_detail_by_click_or_enter_and_compare_shows_numbers_and_photos(browser, ui_app):
    with _page(browser, ui_app[0]) as page:
        send(page, QUERY)
        wait_for_cards(page, 3)
        cards = page.locator(CARDS)
        text = page.locator("#cards").inner_text()
        assert not re.search(r"\(\d\.\d\d\)", text), f"a 'why' line shows a raw score: {text[:400]}"
        assert cards.first.get_attribute("tabindex") == "0"
        # keyboard: focus the second card, press Enter
        cards.nth(1).focus()
        page.keyboard.press("Enter")
        detail = page.locator("#detail .detail")
        detail.wait_for(state="visible")
        second = cards.nth(1).get_attribute("data-product-id")
        assert detail.get_attribute("data-product-id") == second
        assert detail.locator("img.detail-photo").bounding_box()["width"] >= 300
        attrs = detail.locator(".attrs th").all_inner_texts()
        assert "Item number" in attrs and len(attrs) >= 4, attrs
        assert detail.locator(".detail-price").count() == 1
        for label in ("More like this", "Add to compare"):
            assert detail.get_by_role("button", name=label).is_visible()
        detail.get_by_role("button", name="Add to compare").click()
        page.locator("#compare table.compare").wait_for()
        # mouse: click the first card
        first = cards.first.get_attribute("data-product-id")
        cards.first.click()
        page.wait_for_function("id => document.querySelector('#detail .detail')?.dataset.productId === id", arg=first)
        page.locator("#detail").get_by_role("button", name="Add to compare").click()
        page.wait_for_function("() => document.querySelectorAll('#compare thead .num').length === 2")
        table = page.locator("#compare table.compare")
        assert table.locator("thead .num").all_inner_texts() == ["1", "2"]
        assert table.locator("thead img").count() == 2
        for th in table.locator("tbody th").all():  # a one-word row label is drawn on one line
            lines = th.evaluate("""el => { const r = document.createRange(); r.selectNodeContents(el);
                                           return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }""")
            label = th.inner_text().strip()
            assert lines == 1 or " " in label, f"row label {label!r} breaks mid-word ({lines} lines)"
        shot(page, "ui-detail-compare.png")
        page.locator("#detail").get_by_role("button", name="More like this").click()
        answer = _wait_bot_count(page, 2)
        assert answer.startswith("More like"), answer
        wait_for_cards(page, 1)
        assert first not in card_ids(page)


# --- item 9: the chat's clear icon, kiosk mode ---------------------------------------------------------

def test_the_chats_clear_icon_clears_results_chips_and_the_conversation(browser, ui_app):
    with _page(browser, ui_app[0]) as page:
        send(page, QUERY)
        wait_for_cards(page, 1)
        assert chips(page)
        page.locator("#chat").get_by_role("button", name=re.compile("clear", re.I)).click()
        page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=CARDS)
        page.wait_for_function("() => document.querySelectorAll('#chips label').length === 0")
        answer = send(page, "in brown")  # not a refinement of what was cleared
        if FASHION:
            assert "Watches" not in chips(page), (answer, chips(page))
        shot(page, "ui-chat-cleared.png")


def test_kiosk_hides_the_picker_confirms_end_resets_when_idle_and_stores_nothing(browser, kiosk_app):
    url, db = kiosk_app
    with _page(browser, url) as page:
        assert not page.locator("#catalog-picker").is_visible()
        note = page.locator("#privacy-note").inner_text()
        assert "nothing is stored" in note and "12 seconds" in note, note
        assert page.locator("#send").bounding_box()["height"] >= 60
        send(page, "grey sofa")
        wait_for_cards(page, 1)
        page.locator("#end-session").click()
        page.locator("#end-yes").wait_for(state="visible")
        assert page.locator(CARDS).count() > 0, "End session must ask before clearing"
        shot(page, "ui-kiosk-confirm.png")
        page.locator("#end-no").click()
        page.locator("#end-yes").wait_for(state="hidden")
        assert page.locator(CARDS).count() > 0
        page.locator("#end-session").click()
        page.locator("#end-yes").click()
        page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=CARDS)
        assert not bot_messages(page)
        # idle reset: nothing touched for 12 s clears the page
        send(page, "grey sofa")
        wait_for_cards(page, 1)
        page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=CARDS, timeout=45_000)
        assert not bot_messages(page)
        if db.exists():
            with sqlite3.connect(db) as con:
                tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
                rows = sum(con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables
                           if not t.startswith("sqlite_"))
            assert rows == 0, f"the kiosk stored {rows} rows of history"


# --- item 11: accessibility ----------------------------------------------------------------------------

def test_contrast_live_results_and_the_photo_stays_visible(browser, ui_app):
    url, _, photo = ui_app
    with _page(browser, url) as page:
        button = page.locator("#send").evaluate(
            "el => { const s = getComputedStyle(el); return [s.color, s.backgroundColor, s.backgroundImage]; }")
        assert button[2] == "none", f"the Search button has a gradient: {button[2]}"
        assert contrast(button[0], button[1]) >= 4.5, f"Search button {button}: {contrast(button[0], button[1]):.2f}:1"
        holder = page.locator("#message textarea").evaluate(
            """el => { let bg = 'rgba(0, 0, 0, 0)', n = el;
                       while (n && /rgba\\(.*, 0\\)|transparent/.test(bg)) { bg = getComputedStyle(n).backgroundColor; n = n.parentElement; }
                       return [getComputedStyle(el, '::placeholder').color, bg]; }""")
        assert contrast(*holder) >= 4.5, f"placeholder {holder}: {contrast(*holder):.2f}:1"
        live = page.locator("#cards").evaluate(
            "el => (el.closest('[aria-live]') || el.querySelector('[aria-live]'))?.getAttribute('aria-live')")
        assert live == "polite"
        if photo is None:
            return
        upload_photo(page, photo, PHOTO_READY_S)
        wait_for_cards(page, 3)
        mine = page.locator("#cards .your-photo img")
        mine.wait_for(state="visible")
        assert mine.evaluate("el => el.naturalWidth > 0"), "the shopper's photo is not drawn"
        shot(page, "ui-photo-kept.png")


def test_compare_in_the_chat_fills_the_numbered_compare_table(browser, ui_app):
    with _page(browser, ui_app[0]) as page:
        send(page, QUERY)
        wait_for_cards(page, 3)
        ids = card_ids(page)
        send(page, "compare 1 and 3")
        table = page.locator("#compare table.compare")
        table.wait_for()
        assert table.locator("thead .num").all_inner_texts() == ["1", "2"]
        assert table.locator("thead img").count() == 2
        assert ids[0] in table.inner_text() and ids[2] in table.inner_text()  # the item numbers
        shot(page, "ui-chat-compare.png")

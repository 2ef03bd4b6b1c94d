"""GraphiQL in a real headless Chromium: connect as an agency, run a query, read the Docs.

The browser is Debian's `chromium`, driven through `chromedriver` by Selenium. `.ci/run` (through
`scripts/test`) installs both; on a developer machine without them these tests skip.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from sources.persons import PERSONS
from tests.conftest import skip_or_fail

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from selenium.webdriver.remote.webelement import WebElement

    from tests.gateway.conftest import LiveServer

#: Every wait is bounded by this; GraphiQL renders and fetches its schema well within it.
WAIT_SECONDS = 15
TIANHE = "440106"
INSTALL = (
    "install them with `apt-get install chromium chromium-driver` (as root; `scripts/test` "
    "does this when it runs as root)"
)
PERSON_FIELDS = frozenset(field.name for field in PERSONS.fields)
DOCS_BUTTON = '.graphiql-sidebar button[aria-label="Show Documentation Explorer"]'
DOCS_TITLE = ".graphiql-doc-explorer-title"
DOCS_CONTENT = ".graphiql-doc-explorer-content"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile, which keeps the browser console log."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        missing = " and ".join(
            name
            for name, path in (("chromium", chromium), ("chromedriver", chromedriver))
            if path is None
        )
        skip_or_fail(f"{missing} not found on PATH: {INSTALL}")
        raise AssertionError("unreachable")  # skip_or_fail raises; this tells mypy so
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        # Required where Chromium runs as root in a container without a GPU or a network.
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=options,
        service=Service(executable_path=chromedriver, log_output=str(tmp_path / "driver.log")),
    )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def tianhe_person(seeded: Path) -> tuple[str, str]:
    """The ID number and name of a real person registered in Tianhe district."""
    with closing(sqlite3.connect(seeded / "persons.db")) as persons:
        row = persons.execute(
            "SELECT id_number, name FROM persons WHERE division_code = ? ORDER BY id_number",
            (TIANHE,),
        ).fetchone()
    assert row is not None, "the seeded data has no Tianhe person"
    return str(row[0]), str(row[1])


def console(driver: webdriver.Chrome) -> str:
    """The browser console so far, one entry a line, for failure messages."""
    # Selenium's get_log is unannotated (4.x); it is a one-line call, with a bounded type here.
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return "\n".join(f"{entry['level']} {entry['message']}" for entry in entries) or "(empty)"


def wait_for(
    driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], Any], what: str
) -> Any:
    """Wait (bounded) until `condition` holds; on timeout, fail with the console log."""
    try:
        return WebDriverWait(driver, WAIT_SECONDS).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; browser console:\n{console(driver)}")


def open_graphiql(driver: webdriver.Chrome, live: LiveServer, query: str | None = None) -> None:
    url = f"{live.url}/graphql" + (f"?{urlencode({'query': query})}" if query else "")
    driver.get(url)
    wait_for(
        driver,
        expected_conditions.element_to_be_clickable((By.CLASS_NAME, "graphiql-execute-button")),
        "GraphiQL to render",
    )


def connect(driver: webdriver.Chrome, token: str, agency: str) -> None:
    """Paste the token into the bar and press Connect; GraphiQL is then the agency's."""
    previous = driver.find_element(By.CLASS_NAME, "graphiql-container")
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "connect").click()
    wait_for(
        driver,
        expected_conditions.text_to_be_present_in_element((By.ID, "who"), f"connected as {agency}"),
        f"the bar to say it is connected as {agency}",
    )
    # Connect mounts a new GraphiQL with the agency's fetcher; until React has replaced the old
    # one, its buttons still run queries without the token.
    wait_for(driver, expected_conditions.staleness_of(previous), "GraphiQL to be remounted")
    wait_for(
        driver,
        expected_conditions.element_to_be_clickable((By.CLASS_NAME, "graphiql-execute-button")),
        "the remounted GraphiQL to render",
    )


def result(driver: webdriver.Chrome) -> str:
    """The result pane's text, read from its CodeMirror editor."""
    text: str = driver.execute_script(
        "const pane = document.querySelector('.graphiql-response .CodeMirror');"
        "return pane ? pane.CodeMirror.getValue() : '';"
    )
    return text


def person_fields_in_docs(driver: webdriver.Chrome) -> set[str]:
    """Open the Documentation Explorer and follow Query -> person -> Person; its field names."""
    docs = driver.find_element(By.CSS_SELECTOR, DOCS_BUTTON)
    docs.click()
    for kind, name in (("type", "Query"), ("field", "person"), ("type", "Person")):
        link = wait_for(
            driver,
            expected_conditions.element_to_be_clickable(
                (By.XPATH, f'//a[@class="graphiql-doc-explorer-{kind}-name" and text()="{name}"]')
            ),
            f"the {name} link in the Docs",
        )
        link.click()
        wait_for(
            driver,
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, DOCS_TITLE), name),
            f"the Docs to show {name}",
        )
    content = driver.find_element(By.CSS_SELECTOR, DOCS_CONTENT)
    links: list[WebElement] = content.find_elements(
        By.CSS_SELECTOR, "a.graphiql-doc-explorer-field-name"
    )
    return {link.text for link in links}


def test_an_agency_connects_in_graphiql_and_sees_its_query_result(
    browser: webdriver.Chrome,
    served: LiveServer,
    token_for: Callable[[str], str],
    tianhe_person: tuple[str, str],
    tmp_path: Path,
) -> None:
    id_number, name = tianhe_person
    open_graphiql(
        browser, served, f'{{ person(idNumber: "{id_number}") {{ name maritalStatus }} }}'
    )
    connect(browser, token_for("TH-CA"), "TH-CA")
    assert browser.find_element(By.ID, "who").text == "connected as TH-CA"

    browser.find_element(By.CLASS_NAME, "graphiql-execute-button").click()
    wait_for(browser, lambda driver: '"person"' in result(driver), "the result pane to fill")

    answer = json.loads(result(browser))
    assert answer["data"]["person"]["name"] == name, console(browser)
    assert answer["data"]["person"]["maritalStatus"], console(browser)
    assert name in browser.find_element(By.CLASS_NAME, "graphiql-response").text

    screenshot = tmp_path / "graphiql.png"
    assert browser.save_screenshot(str(screenshot))
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), "the screenshot is not a PNG"
    assert len(png) > 1_000, "the screenshot is empty"


def test_the_docs_explorer_shows_only_the_connected_agencys_person_fields(
    browser: webdriver.Chrome, served: LiveServer, token_for: Callable[[str], str]
) -> None:
    open_graphiql(browser, served)
    connect(browser, token_for("TH-CA"), "TH-CA")
    # Relations to other entities (licences, ...) are outside this check: only the natural
    # persons database's own fields, which the catalogue grants field by field.
    assert person_fields_in_docs(browser) & PERSON_FIELDS == {
        "idNumber",
        "name",
        "gender",
        "birthDate",
        "ethnicity",
        "divisionCode",
        "address",
        "maritalStatus",
        "education",
        "status",
    }

    # The same page, reconnected as a city agency granted only the person's name and ID number.
    connect(browser, token_for("GZ-AMR"), "GZ-AMR")
    assert person_fields_in_docs(browser) & PERSON_FIELDS == {"idNumber", "name"}


# -- the Headers tab, the answer line and the page's Content-Security-Policy --------------------

ME = "{ me { agency { code } } }"


def answered_as(driver: webdriver.Chrome) -> str:
    """The line under the bar that says who answered the last request."""
    return driver.find_element(By.ID, "answered").text


def run(driver: webdriver.Chrome, expect: str) -> dict[str, Any]:
    """Press Run and wait until the result pane holds `expect`; the answer as JSON."""
    driver.execute_script(
        "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.setValue('')"
    )
    driver.find_element(By.CLASS_NAME, "graphiql-execute-button").click()
    wait_for(driver, lambda d: expect in result(d), f"{expect} in the result pane")
    answer: dict[str, Any] = json.loads(result(driver))
    return answer


def set_headers_tab(driver: webdriver.Chrome, headers: dict[str, str]) -> None:
    """Open GraphiQL's Headers tab and put `headers` (JSON) in its editor."""
    tab = driver.find_element(
        By.XPATH, '//div[contains(@class, "graphiql-editor-tools")]//button[text()="Headers"]'
    )
    tab.click()
    editor = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
    wait_for(
        driver,
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, editor)),
        "the Headers editor",
    )
    driver.execute_script(
        f"document.querySelector({json.dumps(editor)}).CodeMirror.setValue(arguments[0])",
        json.dumps(headers),
    )


def csp_violations(entries: list[dict[str, Any]]) -> list[str]:
    return [
        str(entry["message"])
        for entry in entries
        if "Content Security Policy" in str(entry["message"])
        or "Refused to" in str(entry["message"])
    ]


def test_an_authorization_header_in_the_headers_tab_takes_precedence_and_says_so(
    browser: webdriver.Chrome, served: LiveServer, token_for: Callable[[str], str]
) -> None:
    open_graphiql(browser, served, ME)
    connect(browser, token_for("TH-CA"), "TH-CA")
    assert run(browser, "TH-CA")["data"]["me"]["agency"]["code"] == "TH-CA"
    assert answered_as(browser) == "Answered as TH-CA: token from the bar."

    # Another agency's token in the Headers tab: the server answers as that agency, and the
    # page says the tab overrode the bar (which still says what it was connected as).
    set_headers_tab(browser, {"Authorization": f"Bearer {token_for('PY-TAX')}"})
    assert run(browser, "PY-TAX")["data"]["me"]["agency"]["code"] == "PY-TAX"
    assert answered_as(browser) == (
        "Answered as PY-TAX: Authorization from the Headers tab (it overrides the token bar)."
    )
    assert browser.find_element(By.ID, "who").text == "connected as TH-CA"

    # A bad token there is refused, not quietly replaced by the bar's.
    set_headers_tab(browser, {"authorization": "Bearer not-a-token"})
    refused = run(browser, "UNAUTHENTICATED")
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert answered_as(browser).startswith("Not authenticated (HTTP 401): Authorization from")

    # Without it, the bar's token again.
    set_headers_tab(browser, {})
    assert run(browser, "TH-CA")["data"]["me"]["agency"]["code"] == "TH-CA"
    assert answered_as(browser) == "Answered as TH-CA: token from the bar."
    entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert csp_violations(entries) == []


def test_the_page_works_under_its_content_security_policy_which_blocks_inline_script(
    browser: webdriver.Chrome, served: LiveServer, token_for: Callable[[str], str]
) -> None:
    open_graphiql(browser, served, ME)
    connect(browser, token_for("GZ-AMR"), "GZ-AMR")
    assert run(browser, "GZ-AMR")["data"]["me"]["agency"]["code"] == "GZ-AMR"
    assert person_fields_in_docs(browser) & PERSON_FIELDS == {"idNumber", "name"}
    for dialog in ("Open settings dialog", "Open short keys dialog"):  # they inject a style
        browser.find_element(By.CSS_SELECTOR, f'button[aria-label="{dialog}"]').click()
        wait_for(
            browser,
            expected_conditions.visibility_of_element_located((By.CLASS_NAME, "graphiql-dialog")),
            dialog,
        )
        browser.find_element(By.CSS_SELECTOR, ".graphiql-dialog-close").click()
        wait_for(
            browser,
            expected_conditions.invisibility_of_element_located((By.CLASS_NAME, "graphiql-dialog")),
            f"{dialog} to close",
        )
    entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert csp_violations(entries) == [], entries

    # The policy is in force, not merely sent: markup that got into the page cannot run.
    browser.execute_script(
        "const s = document.createElement('script');"
        "s.textContent = 'window.injected = true';"
        "document.body.appendChild(s);"
    )
    assert browser.execute_script("return window.injected === undefined") is True
    blocked: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert any("script-src 'self'" in message for message in csp_violations(blocked)), blocked


def test_the_bar_lists_the_agencys_duties_and_a_chosen_duty_narrows_the_docs(
    browser: webdriver.Chrome, served: LiveServer, token_for: Callable[[str], str]
) -> None:
    open_graphiql(browser, served)
    connect(browser, token_for("GZ-PSB"), "GZ-PSB")
    assert "phone" in person_fields_in_docs(browser)
    choices = Select(browser.find_element(By.ID, "duty"))
    assert [o.get_attribute("value") for o in choices.options] == [
        "", "household-registration", "public-security", "traffic-management"]  # fmt: skip
    previous = browser.find_element(By.CLASS_NAME, "graphiql-container")
    choices.select_by_value("traffic-management")  # Govgate-Duty on every request from now on
    wait_for(
        browser,
        expected_conditions.text_to_be_present_in_element(
            (By.ID, "who"), "connected as GZ-PSB under traffic-management"
        ),
        "the bar to name the duty",
    )
    wait_for(browser, expected_conditions.staleness_of(previous), "GraphiQL to be remounted")
    fields = person_fields_in_docs(browser)
    assert "name" in fields
    assert "phone" not in fields

"""The console in a real headless Chromium (Debian's `chromium`, driven by Selenium): the
administrator signs in, decides an access request and resolves an objection through the pages,
and the agency then sees the result over GraphQL. Any Content-Security-Policy violation on the
way fails the test. Skips without chromium and chromedriver (fails under CI=true)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from tests.gateway.http.test_graphiql_browser import browser, console, wait_for
from tests.gateway.workflows.gateway_fixtures import (
    ADMIN,
    TIANHE_CA,
    Agency,
    Deployment,
    make_deployment,
    serve,
    tianhe_records,
)

if TYPE_CHECKING:
    from pathlib import Path

    from selenium import webdriver

__all__ = ["browser"]  # the fixture, shared with the GraphiQL tests


@pytest.fixture
def deployment(tmp_path: Path, seeded: Path) -> Deployment:
    return make_deployment(tmp_path, seeded)


def open_page(driver: webdriver.Chrome, url: str, heading: str) -> None:
    driver.get(url)
    wait_for(driver, expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"),
             heading), f"the page {heading!r}")  # fmt: skip


def submit(driver: webdriver.Chrome, form: str, heading: str, **fields: str) -> None:
    """Fill the fields of the form with id `form` (radios by id), send it, wait for the page."""
    for name, value in fields.items():
        element = driver.find_element(By.ID, name)
        if element.get_attribute("type") == "radio":
            element.click()
        else:
            element.clear()
            element.send_keys(value)
    # The answer may carry the same heading as the form's page: mark this page's window (a
    # new page gets a new one) and wait for the mark to go before reading the heading.
    driver.execute_script("window.govgateOldPage = true")
    driver.find_element(By.CSS_SELECTOR, f"form#{form} button[type=submit]").click()
    wait_for(driver, lambda d: d.execute_script("return window.govgateOldPage === undefined"),
             f"the page after {form}")  # fmt: skip
    wait_for(driver, expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"),
             heading), f"the answer to {form}")  # fmt: skip


def test_the_administrator_decides_a_request_and_resolves_an_objection_in_the_browser(
    browser: webdriver.Chrome, deployment: Deployment
) -> None:
    driver = browser
    person, _ = tianhe_records(deployment)
    with serve(deployment) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        tianhe = Agency(http, deployment.token(TIANHE_CA, "clerk-11"))
        request = tianhe.ask(
            'mutation { requestAccess(fields: ["Person.phone"], duty: '
            '"civil-affairs", reason: "contact for the review") { id } }'
        )
        request_id = request["data"]["requestAccess"]["id"]
        objection = tianhe.ask(
            'mutation($r: String!) { fileObjection(record: $r, field: "Person.maritalStatus", '
            'reason: "the export looks stale") { id } }', r=f"Person:{person}",
        )["data"]["fileObjection"]["id"]  # fmt: skip

        open_page(driver, f"{live.url}/console", "Sign in")
        driver.find_element(By.ID, "token").send_keys(deployment.token(ADMIN, "admin-07"))
        driver.find_element(By.ID, "sign-in").click()
        wait_for(driver, expected_conditions.text_to_be_present_in_element((By.ID, "who"),
                 "GZ-DATA (officer admin-07)"), "the inbox")  # fmt: skip
        inbox = driver.find_element(By.ID, "requests").text
        assert request_id in inbox
        assert "5 working days" not in inbox

        driver.find_element(By.LINK_TEXT, request_id).click()
        wait_for(driver, expected_conditions.presence_of_element_located((By.ID, "forward")),
                 "the request's page")  # fmt: skip
        submit(driver, "forward", request_id, **{"forward-reference": "GZ-GOV-FWD-7"})
        submit(driver, "decide", request_id, **{"decision-approve": "", "decide-reference":
                                                 "GZ-GOV-2026-88"})  # fmt: skip
        assert "approved" in driver.find_element(By.ID, "status").text
        assert "in force as published policy" in driver.find_element(By.CLASS_NAME,
                                                                      "notice").text  # fmt: skip

        open_page(driver, f"{live.url}/console/objections/{objection}", objection)
        submit(driver, "check", objection, **{"cause-technical": "", "check-reason":
                                              "an export job served a stale copy"})  # fmt: skip
        assert driver.find_element(By.ID, "status").text == "corrected"

        # The agency sees both results.
        phone = tianhe.ask("query($p: String!) { person(idNumber: $p) { phone } }", p=person)
        assert "errors" not in phone
        assert phone["data"]["person"]["phone"]
        mine = tianhe.ask("{ accessRequests { id state } objections { id status notified } "
                          "notifications { objection } }")["data"]  # fmt: skip
        assert {"id": request_id, "state": "approved"} in mine["accessRequests"]
        assert mine["objections"] == [{"id": objection, "status": "corrected", "notified": True}]

        open_page(driver, f"{live.url}/console/grants", "Grants of the served policy")
        driver.find_element(
            By.CSS_SELECTOR, 'a[href="/console/grants/explain?agency=TH-CA&field=Person.phone"]'
        ).click()
        wait_for(driver, expected_conditions.text_to_be_present_in_element((By.ID, "reason"),
                 "GZ-GOV-2026-88"), "the cell's explanation")  # fmt: skip
        driver.find_element(By.ID, "sign-out").click()
        wait_for(driver, expected_conditions.presence_of_element_located((By.ID, "token")),
                 "the sign-in form after signing out")  # fmt: skip
    log = console(driver)
    assert "Content Security Policy" not in log, log
    assert "Refused to" not in log, log

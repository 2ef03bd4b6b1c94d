"""Log lines name the request they belong to, as JSON for machines or text for people."""

from __future__ import annotations

import json
import logging

from gateway.http.logs import JsonFormatter, TextFormatter, WithoutQuery, log_config, logged_as


def record(message: str, *, error: bool = False) -> logging.LogRecord:
    exc_info = None
    if error:
        try:
            raise ValueError("boom")
        except ValueError as failure:
            exc_info = (type(failure), failure, failure.__traceback__)
    return logging.LogRecord("govgate.gateway", logging.ERROR, __file__, 1, message, (), exc_info)


def test_a_json_line_carries_the_request_id_and_the_traceback() -> None:
    with logged_as("req-7.abc"):
        line = json.loads(JsonFormatter().format(record("it failed", error=True)))
    assert (line["message"], line["request_id"], line["level"]) == (
        "it failed",
        "req-7.abc",
        "ERROR",
    )
    assert "ValueError: boom" in line["exc"]
    outside = json.loads(JsonFormatter().format(record("idle")))
    assert "request_id" not in outside


def test_a_text_line_names_the_request_before_its_traceback() -> None:
    with logged_as("req-8.def"):
        text = TextFormatter().format(record("it failed", error=True))
    first, _, rest = text.partition("\n")
    assert first.endswith("govgate.gateway: it failed [request req-8.def]")
    assert "ValueError: boom" in rest


def test_serve_picks_the_formatter_by_log_format() -> None:
    for name, formatter in (("json", JsonFormatter), ("text", TextFormatter)):
        config = log_config(name)  # type: ignore[arg-type]
        assert config["formatters"]["default"]["()"].endswith(formatter.__name__)


def test_an_access_line_never_carries_the_urls_query_string() -> None:
    asked = "/graphql?variables=%7B%22id%22%3A%22440106199001011234%22%7D"
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", asked, "1.1", 200), None,
    )  # fmt: skip
    assert WithoutQuery().filter(access)
    line = json.loads(JsonFormatter().format(access))
    assert line["path"] == "/graphql?…"
    assert "440106199001011234" not in json.dumps(line)
    assert "440106199001011234" not in TextFormatter().format(access)
    config = log_config("json")
    assert config["loggers"]["uvicorn.access"]["filters"] == ["without_query"]
    assert config["filters"]["without_query"]["()"].endswith("WithoutQuery")

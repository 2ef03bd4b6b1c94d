"""The GraphiQL page: paste an agency token, explore that agency's schema, run queries.

GraphiQL and React are served from `gateway/static/graphiql/` (vendored, MIT), so the page works
without internet access; so are the page's own script and styles (`govgate.js`, `govgate.css`),
because the page's Content-Security-Policy runs nothing inline: a query string or a schema
description that smuggled markup into the page could not run a script, load anything from
elsewhere or send a token elsewhere. Nor may another site frame the page (`frame-ancestors
'none'`, `X-Frame-Options: DENY`: no clickjacking of a developer holding a token).

An `Authorization` header set in GraphiQL's Headers tab takes precedence over the token bar;
the line under the bar says which agency answered, from the `X-Govgate-Agency` header the
gateway puts on every answer to an authenticated request (`AGENCY_HEADER`).

Once connected, the bar lists the agency's duties: choosing one sends `Govgate-Duty` with every
request, so the schema and answers are that duty's (Art. 18, 21).
"""

from __future__ import annotations

from starlette.responses import HTMLResponse

__all__ = ["AGENCY_HEADER", "CONTENT_SECURITY_POLICY", "GRAPHIQL_HTML", "graphiql_page"]

#: Names the agency whose token a request was answered for; only on authenticated answers.
AGENCY_HEADER = "X-Govgate-Agency"

#: GraphiQL's dialogs (settings, short keys) lock page scrolling with one fixed <style> element
#: (react-remove-scroll-bar's, in graphiql.min.js); on this page, which never scrolls and whose
#: body has no margin, its text is constant, so it is allowed by its hash and nothing else
#: inline is. A new GraphiQL may change it: the browser test opens both dialogs and fails on
#: any CSP violation, naming the hash the browser wants.
_SCROLL_LOCK_STYLE = "'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='"

#: Everything from this origin only; nothing inline (but that one style), no eval, no frames,
#: no plugins. Fonts and the favicon are data: URLs inside the vendored CSS and the page.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    f"style-src 'self' {_SCROLL_LOCK_STYLE}",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))  # fmt: skip

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's address may carry a query (?query=)
}

GRAPHIQL_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>govgate GraphiQL</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/static/graphiql/graphiql.min.css">
  <link rel="stylesheet" href="/static/graphiql/govgate.css">
</head>
<body>
  <div id="bar">
    <strong>govgate</strong>
    <label for="token">Agency token</label>
    <input id="token"
           placeholder="paste a token printed by `govgate demo` or `govgate token`"
           autocomplete="off" spellcheck="false">
    <button id="connect" type="button">Connect</button>
    <label for="duty">Duty</label>
    <select id="duty"><option value="">all its duties</option></select>
    <span id="who">not connected</span>
  </div>
  <div id="answered" role="status">No answer yet. An Authorization header in the Headers tab
    takes precedence over the token bar.</div>
  <div id="graphiql"></div>
  <script src="/static/graphiql/react.production.min.js"></script>
  <script src="/static/graphiql/react-dom.production.min.js"></script>
  <script src="/static/graphiql/graphiql.min.js"></script>
  <script src="/static/graphiql/govgate.js"></script>
</body>
</html>
"""


def graphiql_page() -> HTMLResponse:
    """The page, with its Content-Security-Policy and framing and sniffing protections."""
    return HTMLResponse(GRAPHIQL_HTML, headers=_HEADERS)

"""The GraphiQL page: paste an agency token, explore that agency's schema, run queries.

GraphiQL and React are served from `gateway/static/graphiql/` (vendored, MIT), so the page works
without internet access. The token is kept in the browser tab's sessionStorage only. Once
connected, the bar lists the agency's duties: choosing one sends `Govgate-Duty` with every
request, so the schema and answers are that duty's (Art. 18, 21).
"""

from __future__ import annotations

__all__ = ["GRAPHIQL_HTML"]

GRAPHIQL_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>govgate GraphiQL</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/static/graphiql/graphiql.min.css">
  <style>
    html, body { height: 100%; margin: 0; font-family: system-ui, sans-serif; }
    body { display: flex; flex-direction: column; }
    #bar { display: flex; gap: .5rem; align-items: center; padding: .5rem .75rem;
           background: #0b3d6b; color: #fff; }
    #bar input { flex: 1; font-family: monospace; padding: .3rem; }
    #bar button { padding: .3rem .8rem; }
    #who { min-width: 12rem; text-align: right; }
    #graphiql { flex: 1; min-height: 0; }
  </style>
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
  <div id="graphiql"></div>
  <script src="/static/graphiql/react.production.min.js"></script>
  <script src="/static/graphiql/react-dom.production.min.js"></script>
  <script src="/static/graphiql/graphiql.min.js"></script>
  <script>
    const params = new URLSearchParams(location.search);
    const defaultQuery = params.get("query") ||
      "# Paste your agency's token above and press Connect.\\n" +
      "# Then open the Docs to see exactly what your agency may read.\\n" +
      "{\\n  me {\\n    agency { code name division }\\n" +
      "    scopes { type scope division }\\n  }\\n}\\n";
    const root = ReactDOM.createRoot(document.getElementById("graphiql"));
    let generation = 0;

    function fetcherFor(token, duty) {
      if (!token) {  // nothing to ask the server yet: say what to do instead of a 401
        return async () => ({ errors: [{ message:
          "Not connected: paste your agency's token in the bar above and press Connect." }] });
      }
      return async (body) => {
        const response = await fetch("/graphql", {
          method: "POST",
          headers: { "Content-Type": "application/json",
                     ...(token ? { "Authorization": "Bearer " + token } : {}),
                     ...(duty ? { "Govgate-Duty": duty } : {}) },
          body: JSON.stringify(body),
        });
        return response.json();
      };
    }

    function render(token, duty) {
      generation += 1;  // a new key makes GraphiQL fetch the new agency's schema
      root.render(React.createElement(GraphiQL, {
        key: generation, fetcher: fetcherFor(token, duty), defaultQuery,
        defaultEditorToolsVisibility: false,
      }));
    }

    function listDuties(duties, chosen) {  // the agency's duties, from `me` or a refusal
      const select = document.getElementById("duty");
      select.replaceChildren(new Option("all its duties", ""));
      for (const d of duties || []) select.add(new Option(d.id + " " + d.name, d.id));
      select.value = chosen;
    }

    async function connect() {
      const token = document.getElementById("token").value.trim();
      const same = token === sessionStorage.getItem("govgate-token");  // else: a new agency
      const duty = same ? document.getElementById("duty").value : "";
      const who = document.getElementById("who");
      sessionStorage.setItem("govgate-token", token);
      render(token, duty);
      if (!token) {
        who.textContent = "not connected: paste a token";
        return;
      }  // the old GraphiQL, with the old token, is gone before anything is said
      who.textContent = "connecting...";
      const answer = await fetcherFor(token, duty)(
        { query: "{ me { agency { code } duty duties { id name } } }" });
      const refused = (answer.errors || [{ message: "not connected" }])[0];
      listDuties(answer.data ? answer.data.me.duties : (refused.extensions || {}).duties, duty);
      who.textContent = answer.data ? "connected as " + answer.data.me.agency.code +
        (answer.data.me.duty ? " under " + answer.data.me.duty : "") : refused.message;
    }

    document.getElementById("connect").addEventListener("click", connect);
    document.getElementById("duty").addEventListener("change", connect);
    document.getElementById("token").addEventListener("keydown", (e) => {
      if (e.key === "Enter") connect();
    });
    document.getElementById("token").value = sessionStorage.getItem("govgate-token") || "";
    connect();
  </script>
</body>
</html>
"""

// govgate's GraphiQL page (gateway/graphiql.py): a token bar above GraphiQL, and a line that
// says which agency answered each request. A file, not an inline script: the page's
// Content-Security-Policy runs scripts from this origin only.
//
// Which duty: once connected, the bar lists the agency's duties (from `me`, or from a refusal
// that names them); choosing one sends Govgate-Duty with every request, so the schema and the
// answers are that duty's (Art. 18, 21).
//
// Whose token: an Authorization header typed in GraphiQL's Headers tab takes precedence over
// the token bar, and the answer line says so. Other headers in the tab are sent as typed. The tab's contents stay in the page (GraphiQL does not store them); the bar's
// token is kept in this browser tab's sessionStorage only.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const defaultQuery = params.get("query") ||
    "# Paste your agency's token above and press Connect.\n" +
    "# Then open the Docs to see exactly what your agency may read.\n" +
    "{\n  me {\n    agency { code name division }\n" +
    "    scopes { type scope division }\n  }\n}\n";
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  const who = document.getElementById("who");
  const answered = document.getElementById("answered");
  const NOT_CONNECTED = { errors: [{ message:
    "Not connected: paste your agency's token in the bar above and press Connect, or set " +
    "an Authorization header in the Headers tab." }] };
  let generation = 0;

  // The name of the Authorization header among the Headers tab's, whatever its case.
  function authorizationIn(headers) {
    return Object.keys(headers).find((name) => name.toLowerCase() === "authorization");
  }

  // Say which agency answered: the server names it in X-Govgate-Agency on every answer to an
  // authenticated request, and never otherwise.
  function showAnswer(response, fromTab) {
    const agency = response.headers.get("X-Govgate-Agency");
    const source = fromTab
      ? "Authorization from the Headers tab (it overrides the token bar)"
      : "token from the bar";
    answered.classList.toggle("override", Boolean(fromTab) && Boolean(agency));
    answered.classList.toggle("refused", !agency);
    answered.textContent = agency
      ? "Answered as " + agency + ": " + source + "."
      : "Not authenticated (HTTP " + response.status + "): " + source + " was refused.";
  }

  function fetcherFor(token, duty) {
    return async (body, options) => {
      const tab = (options && options.headers) || {};
      const fromTab = authorizationIn(tab);
      if (!fromTab && !token) {  // nothing to ask the server yet: say what to do, not a 401
        return NOT_CONNECTED;
      }
      const headers = { "Content-Type": "application/json" };
      if (token) headers.Authorization = "Bearer " + token;
      if (duty) headers["Govgate-Duty"] = duty;
      for (const [name, value] of Object.entries(tab)) {
        if (name.toLowerCase() === "authorization") delete headers.Authorization;
        headers[name] = String(value);
      }
      const response = await fetch("/graphql", {
        method: "POST", headers, body: JSON.stringify(body),
      });
      showAnswer(response, fromTab);
      return response.json();
    };
  }

  function render(token, duty) {
    generation += 1;  // a new key makes GraphiQL fetch the new agency's (or duty's) schema
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
  document.getElementById("token").addEventListener("keydown", (event) => {
    if (event.key === "Enter") connect();
  });
  document.getElementById("token").value = sessionStorage.getItem("govgate-token") || "";
  connect();
})();

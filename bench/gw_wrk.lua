-- wrk script for the gateway benchmark (bench/gateway.sh): POST JSON bodies to /graphql.
--
--   wrk -t1 -c16 -d15s -s bench/gw_wrk.lua http://127.0.0.1:PORT -- BODIES_FILE [TOKEN]
--
-- BODIES_FILE holds one JSON request body per line (bench/gw_scenarios.py); the script rotates
-- over them, each connection from its own offset, so consecutive requests ask for different
-- records. TOKEN, when given, goes in `Authorization: Bearer TOKEN`; a line may also carry its
-- own token before a tab (`TOKEN<TAB>BODY`: bench/load_run.py's mixed traffic). Requests are formatted
-- once, in init(), so the load generator spends its time on the network, not in Lua.
--
-- response() counts answers that are not HTTP 200 or whose body carries a GraphQL "errors"
-- member; done() prints one machine-readable line, starting with GWBENCH, with the counts and
-- the latency percentiles in microseconds.

local requests_list = {}
local index = 0
graphql_errors = 0  -- globals: done() reads them with thread:get
not_ok = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local token = args[2]
  local headers = { ["Content-Type"] = "application/json" }
  if token ~= nil and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    local own, body = line:match("^([^\t{]+)\t(.+)$")
    if own then
      local mine = { ["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer " .. own }
      table.insert(requests_list, wrk.format("POST", "/graphql", mine, body))
    elseif #line > 0 then
      table.insert(requests_list, wrk.format("POST", "/graphql", headers, line))
    end
  end
  file:close()
  assert(#requests_list > 0, "no request bodies in " .. path)
  index = math.random(#requests_list) - 1
end

function request()
  index = index % #requests_list + 1
  return requests_list[index]
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  elseif string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local errors, bad = 0, 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("graphql_errors")
    bad = bad + thread:get("not_ok")
  end
  local e = summary.errors
  io.write(string.format(
    'GWBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"non_2xx":%d,"not_200":%d,"graphql_errors":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.timeout, e.status, bad, errors))
end

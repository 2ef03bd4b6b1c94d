-- wrk script for the load test (bench/load.sh): mixed traffic from several agencies.
--
--   wrk -t2 -c32 -d60s -s bench/load_wrk.lua http://127.0.0.1:PORT -- LINES_FILE
--
-- LINES_FILE holds one request per line: the agency's token, a tab, the JSON body. Requests are
-- formatted once in init(); each connection starts at its own offset. response() counts answers
-- that are not HTTP 200 or carry a GraphQL "errors" member (the mix holds no refusals, so any
-- is an error); done() prints one line starting with LOADTEST with the counts and latencies.

local requests_list = {}
local index = 0
graphql_errors = 0
not_ok = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open " .. tostring(args[1]))
  for line in file:lines() do
    local token, body = line:match("^([^\t]+)\t(.+)$")
    if token then
      local headers = { ["Content-Type"] = "application/json",
                        ["Authorization"] = "Bearer " .. token }
      table.insert(requests_list, wrk.format("POST", "/graphql", headers, body))
    end
  end
  file:close()
  assert(#requests_list > 0, "no requests in " .. args[1])
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
    'LOADTEST {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"non_2xx":%d,"not_200":%d,"graphql_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status,
    bad, errors))
end

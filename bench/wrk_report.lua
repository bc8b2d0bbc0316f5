-- wrk script for bench/run.sh: one request shape from the environment, one JSON summary line.
-- Env: METHOD (GET|POST), BODY (urlencoded form), AUTH (Authorization header value), LABEL.
local method = os.getenv("METHOD") or "GET"
local body = os.getenv("BODY")
local auth = os.getenv("AUTH")
local label = os.getenv("LABEL") or ""

wrk.method = method
if body and #body > 0 then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
if auth and #auth > 0 then
  wrk.headers["Authorization"] = auth
end

-- Count non-2xx answers in this thread; done() sums them.
local threads = {}
function setup(thread)
  thread:set("non2xx", 0)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"label":"%s","requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"lat_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f},"non2xx":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    label, summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, bad,
    e.connect, e.read, e.write, e.timeout))
end

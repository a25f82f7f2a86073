-- Shared by the benchmark's wrk scripts: reading target files, per-thread ids, and the JSON
-- summary line bench/run.py parses (latency in microseconds).
local common = {}
local threads = {}
local next_id = 0

-- Lines of a file as an array; stops wrk with a message when the file is missing or empty.
function common.lines(path)
  local out = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    if #line > 0 then out[#out + 1] = line end
  end
  f:close()
  assert(#out > 0, path .. " is empty")
  return out
end

-- "id count" lines (a flow and its number of segments) as an array of {id=, count=}.
function common.flow_counts(path)
  local out = {}
  for _, line in ipairs(common.lines(path)) do
    local id, count = line:match("^(%S+)%s+(%d+)$")
    assert(id, path .. ": expected 'id count' lines, got " .. line)
    out[#out + 1] = {id = id, count = tonumber(count)}
  end
  return out
end

-- GET target of a random window of 10 adjacent 2 s segments of a random flow of `flows`
-- (from flow_counts; segment n is [1700000000 + 2n s, +2 s)), with `suffix` appended. Drawn per
-- request, so repeated requests for one window are as rare as with real clients.
function common.window_target(flows, suffix)
  local f = flows[math.random(#flows)]
  local s = 1700000000 + 2 * (math.random(f.count - 10) - 1)
  return string.format("/flows/%s/segments?timerange=%%5B%d%%3A0_%d%%3A0%%29%s",
                       f.id, s, s + 20, suffix or "")
end

-- A seed that differs between wrk's threads (each has its own Lua state).
function common.seed()
  return os.time() + math.floor(os.clock() * 1e6) + (tonumber(wrk.thread:get("id")) or 0) * 7919
end

-- Gives each thread an id 0..n-1 (wrk calls setup once per thread, before init).
function common.setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

-- Headers for a JSON body: wrk.format does not merge wrk.headers into an explicit table.
function common.json_headers()
  return {["Authorization"] = wrk.headers["Authorization"], ["Content-Type"] = "application/json"}
end

-- The JSON of segment n of `flow`: [n*2 s, (n+1)*2 s) from a recent TAI second, an external
-- object (unique per flow and n) with a client get_url.
function common.external_segment(flow, n)
  local s = 1700000000 + 2 * n
  return string.format(
    '{"object_id":"%s-%d","timerange":"[%d:0_%d:0)",' ..
    '"get_urls":[{"url":"http://media.example/%s/%d.ts","label":"ext"}]}',
    flow, n, s, s + 2, flow, n)
end

-- Counts responses whose status is not `expected` in the thread's "unexpected" variable.
function common.count_unexpected(expected)
  local unexpected = 0
  return function(status, headers, body)
    if status ~= expected then
      unexpected = unexpected + 1
      wrk.thread:set("unexpected", unexpected)
      if unexpected <= 3 then io.stderr:write("unexpected ", status, ": ", body or "", "\n") end
    end
  end
end

function common.done(summary, latency, requests)
  local unexpected = 0
  for _, t in ipairs(threads) do unexpected = unexpected + (tonumber(t:get("unexpected")) or 0) end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "non_2xx_3xx": %d, ' ..
    '"unexpected": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout,
    e.status, unexpected, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end

return common

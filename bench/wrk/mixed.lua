-- 90 % reads, 10 % writes: 6 in 10 requests query a random 10-segment window of a random flow,
-- 3 in 10 GET a random line of the targets file (flow GETs and listings); 1 in 10 registers one
-- 2 s segment (an external object, a single-object body, so a refusal is a 4xx) on the flow of
-- its wrk thread.
-- Usage: wrk ... -s bench/wrk/mixed.lua <url> -- <targets file> <flow ids file>
--                                              <"flow_id count" file>
local common = require("common")
local targets, windows, flow, next_segment, headers = {}, {}, nil, 0, nil

function init(args)
  targets = common.lines(args[1])
  local flows = common.lines(args[2])
  flow = flows[(tonumber(wrk.thread:get("id")) or 0) % #flows + 1]
  windows = common.flow_counts(args[3])
  headers = common.json_headers()
  math.randomseed(common.seed())
end

function request()
  local dice = math.random(10)
  if dice > 4 then
    return wrk.format("GET", common.window_target(windows))
  elseif dice > 1 then
    return wrk.format("GET", targets[math.random(#targets)])
  end
  local body = common.external_segment(flow, next_segment)
  next_segment = next_segment + 1
  return wrk.format("POST", "/flows/" .. flow .. "/segments", headers, body)
end

setup = common.setup
done = common.done

-- Bulk segment registration: each request POSTs <batch> adjacent 2 s segments (external objects
-- with a client get_url) to the flow of its wrk thread; a request counts as failed unless 201.
-- Usage: wrk ... -s bench/wrk/register.lua <url> -- <batch> <flow ids file>
local common = require("common")
local batch, flow, next_segment = 1, nil, 0
local headers = nil

function init(args)
  batch = tonumber(args[1])
  local flows = common.lines(args[2])
  flow = flows[(tonumber(wrk.thread:get("id")) or 0) % #flows + 1]
  headers = common.json_headers()
end

function request()
  local parts = {}
  for i = 1, batch do
    parts[i] = common.external_segment(flow, next_segment)
    next_segment = next_segment + 1
  end
  return wrk.format("POST", "/flows/" .. flow .. "/segments", headers,
                    "[" .. table.concat(parts, ",") .. "]")
end

response = common.count_unexpected(201)
setup = common.setup
done = common.done

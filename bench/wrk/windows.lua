-- Segment timerange queries: each request GETs a random 10-segment window of a random flow.
-- Usage: wrk ... -s bench/wrk/windows.lua <url> -- <"flow_id count" file> [query suffix]
local common = require("common")
local flows, suffix = {}, ""

function init(args)
  flows = common.flow_counts(args[1])
  suffix = args[2] or ""
  math.randomseed(common.seed())
end

function request()
  return wrk.format("GET", common.window_target(flows, suffix))
end

setup = common.setup
done = common.done

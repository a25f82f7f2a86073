-- GETs a random line of a file of request targets per request (keep-alive, wrk's -H headers).
-- Usage: wrk ... -s bench/wrk/paths.lua <url> -- <targets file>
local common = require("common")
local targets = {}

function init(args)
  targets = common.lines(args[1])
  math.randomseed(common.seed())
end

function request()
  return wrk.format("GET", targets[math.random(#targets)])
end

setup = common.setup
done = common.done

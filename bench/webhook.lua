-- wrk script: POST Aodh-shaped webhooks to /v1/aodh, each with an alarm id never sent before
-- (run prefix, wrk thread, counter), so every request is a new alarm the bridge must commit.
--   wrk -t2 -c8 -d10s -s bench/webhook.lua URL -- RUN_PREFIX [AUTHORIZATION]
-- Used by bench/bench_servers.py; see bench/README.md.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads) -- a global of that thread's Lua state
end

local prefix, sent = "wrk", 0
local headers = { ["Content-Type"] = "application/json" }
local template = '{"alarm_name":"wrk-%s","alarm_id":"%s","severity":"moderate",'
  .. '"previous":"ok","current":"alarm",'
  .. '"reason":"Transition to alarm due to 3 samples outside threshold",'
  .. '"reason_data":{"type":"threshold","disposition":"outside","count":3,"most_recent":95.0}}'

function init(args)
  prefix = string.format("%s-%d", args[1] or prefix, thread_number or 0)
  if args[2] then
    headers["Authorization"] = args[2]
  end
end

function request()
  sent = sent + 1
  local id = string.format("%s-%d", prefix, sent)
  return wrk.format("POST", "/v1/aodh", headers, string.format(template, id, id))
end

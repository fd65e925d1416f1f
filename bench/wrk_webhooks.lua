-- wrk script of bench/bench_bridge.py: every request is an Aodh-shaped webhook (the body of
-- tests.support.bridge.aodh_payload) whose alarm id is unique to its thread and request, and
-- done() prints one JSON line with the counts and the latency percentiles.
--
--   wrk -t1 -c8 -d10s --latency -s bench/wrk_webhooks.lua http://127.0.0.1:PORT -- PREFIX [CURRENT PREVIOUS]
--
-- PREFIX keeps the ids of one run apart from every other run's (default: "wrk" and the time
-- in seconds); CURRENT and PREVIOUS are the alarm states of the transition (default "alarm"
-- and "ok"). Ids must be new to the bridge: a webhook for an alarm already in that state
-- changes nothing and sends nothing, and costs the bridge about 40 % less CPU.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state): the body around the alarm id.
local id_prefix, before_name, between, after_id
sent = 0

function init(args)
  -- args[0] is the URL; the script's own arguments follow.
  local prefix = args[1] or ("wrk" .. os.time())
  local current = args[2] or "alarm"
  local previous = args[3] or "ok"
  id_prefix = prefix .. "-" .. thread_index .. "-"
  before_name = '{"alarm_name": "alarm-'
  between = '", "alarm_id": "'
  after_id = '", "severity": "moderate", "previous": "' .. previous .. '", "current": "'
    .. current .. '", "reason": "Transition to ' .. current
    .. ' due to 3 samples outside threshold", "reason_data": {"type": "threshold", '
    .. '"disposition": "outside", "count": 3, "most_recent": 95.0}}'
  wrk.method = "POST"
  wrk.path = "/v1/aodh"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  local id = id_prefix .. sent
  return wrk.format(nil, nil, nil, before_name .. id .. between .. id .. after_id)
end

function done(summary, latency, requests)
  local posted = 0
  for _, thread in ipairs(threads) do
    posted = posted + thread:get("sent")
  end
  local errors = summary.errors
  -- wrk keeps latencies in microseconds; statuses above 399 are its "status" errors.
  io.write(string.format(
    '{"duration_us": %d, "responses": %d, "posted": %d, "bytes": %d, "non_2xx_3xx": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"latency_us": {"min": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, '
      .. '"mean": %.1f, "stdev": %.1f}}\n',
    summary.duration, summary.requests, posted, summary.bytes, errors.status,
    errors.connect, errors.read, errors.write, errors.timeout,
    latency.min, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, latency.stdev))
end

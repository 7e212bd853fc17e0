-- wrk: POST /quota/check for a random one of the 100,000 tenants bench/quota.sh loaded
-- (QUOTA_TENANTS: of the first that many instead, e.g. the tenants active right now).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tenants = tonumber(os.getenv("QUOTA_TENANTS") or "") or 100000
function request()
  return wrk.format(nil, "/quota/check", nil, '{"tenant_id":"tenant_' .. math.random(0, tenants - 1) .. '"}')
end

-- QUOTA_DELAY_MS (optional, whole milliseconds): each connection waits that long before its next
-- request, so that a fixed number of connections holds a rate.
local pause = tonumber(os.getenv("QUOTA_DELAY_MS") or "")
if pause then
  function delay()
    return pause
  end
end

-- wrk: POST /quota/check for a random one of the 100,000 tenants bench/quota.sh loaded
-- (QUOTA_TENANTS: of the first that many instead, e.g. the tenants active right now).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tenants = tonumber(os.getenv("QUOTA_TENANTS") or "") or 100000
function request()
  return wrk.format(nil, "/quota/check", nil, '{"tenant_id":"tenant_' .. math.random(0, tenants - 1) .. '"}')
end

-- QUOTA_DELAY_MS paces it (bench/pace.lua): e.g. 20 connections pausing 1 ms hold ~10,000 req/s.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "pace.lua")
pace("QUOTA_DELAY_MS")

-- wrk: POST /quota/check for a random one of the 100,000 tenants bench/quota.sh loaded.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  return wrk.format(nil, "/quota/check", nil, '{"tenant_id":"tenant_' .. math.random(0, 99999) .. '"}')
end

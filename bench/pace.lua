-- wrk scripts call pace("VARIABLE"): when the environment variable holds whole milliseconds,
-- each connection waits that long before its next request, so that a number of connections
-- holds a rate (latency at a rate, not at saturation).
function pace(variable)
  local pause = tonumber(os.getenv(variable) or "")
  if pause then
    delay = function()
      return pause
    end
  end
end

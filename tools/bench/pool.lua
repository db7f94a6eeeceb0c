-- wrk: sends the raw HTTP requests of a file (wrk URL FILE [DELAY_MS]),
-- each once, in order; a file of one request repeats it.  With DELAY_MS,
-- each connection waits that long before each request: 50 connections
-- then send at a steady rate, the same for a plain location and its twin.
local pool = {}
local i = 0
local pause = nil

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  for req in data:gmatch("(.-\r\n\r\n)") do
    pool[#pool + 1] = req
  end
  assert(#pool > 0, "no requests in " .. args[1])
  if args[2] then
    pause = tonumber(args[2])
  end
end

function request()
  i = i + 1
  if i > #pool then
    i = 1
  end
  return pool[i]
end

function delay()
  return pause or 0
end

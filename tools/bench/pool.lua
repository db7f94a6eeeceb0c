-- wrk: sends the raw HTTP requests of a file (wrk URL FILE), each once,
-- in order; a file of one request repeats it
local pool = {}
local i = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  for req in data:gmatch("(.-\r\n\r\n)") do
    pool[#pool + 1] = req
  end
  assert(#pool > 0, "no requests in " .. args[1])
end

function request()
  i = i + 1
  if i > #pool then
    i = 1
  end
  return pool[i]
end

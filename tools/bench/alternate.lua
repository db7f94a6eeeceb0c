-- wrk: two rows in one run (wrk URL FILE PERIOD_MS DELAY_MS [OTHER]).
--
-- Periods of PERIOD_MS by the wall clock, numbered since the epoch: even
-- ones send the twin's requests, odd ones the requests of FILE, each once,
-- in order.  The twin's requests are those of OTHER, or else FILE's with
-- "Host: a.bench" made "Host: p.bench" (the plain server: the same bytes
-- but one letter).  The bench samples the worker at the same boundaries,
-- so a pair of periods is a pair of rows a few hundred milliseconds apart,
-- on the very same connections.  With DELAY_MS > 0 each connection waits
-- that long before each request: a steady rate, the same in both.
local ffi = require("ffi")

ffi.cdef [[
typedef struct { long sec; long nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]

local CLOCK_REALTIME = 0
local ts = ffi.new("bench_timespec")
local rows = { {}, {} }
local sent = { 0, 0 }
local period, pause

-- the twin's copies of a nonce pool: as many as a run can send at most
-- in its twin's periods would be as large as the pool; these repeat
local TWIN_MAX = 100000

-- requests one after the other, each its head and the Content-Length
-- bytes of body that follow it
local function read_pool(file)
  local f = assert(io.open(file, "rb"))
  local data = f:read("*a")
  f:close()
  local pool, pos = {}, 1
  while pos <= #data do
    local e = assert(data:find("\r\n\r\n", pos, true), "a cut request")
    local head = data:sub(pos, e + 3)
    local len = tonumber(head:match("\r\nContent%-Length: *(%d+)\r\n")) or 0
    pool[#pool + 1] = head .. data:sub(e + 4, e + 3 + len)
    pos = e + 4 + len
  end
  assert(#pool > 0, "no requests in " .. file)
  return pool
end

function init(args)
  rows[2] = read_pool(args[1])
  period = assert(tonumber(args[2]), "no period")
  pause = tonumber(args[3] or "0")
  if args[4] then
    rows[1] = read_pool(args[4])
  else
    for i = 1, math.min(#rows[2], TWIN_MAX) do
      local req, n = rows[2][i]:gsub("\r\nHost: a%.bench\r\n",
                                     "\r\nHost: p.bench\r\n", 1)
      assert(n == 1, "no Host: a.bench in a request")
      rows[1][i] = req
    end
  end
end

function request()
  ffi.C.clock_gettime(CLOCK_REALTIME, ts)
  local ms = tonumber(ts.sec) * 1000 + math.floor(tonumber(ts.nsec) / 1e6)
  local k = math.floor(ms / period) % 2 + 1
  local pool = rows[k]
  local i = sent[k] + 1
  if i > #pool then
    i = 1
  end
  sent[k] = i
  return pool[i]
end

function delay()
  return pause
end

-- extend_locks: renew the locks of the jobs a worker holds, in one round trip.
-- ARGV: lock duration ms, then pairs of job id, token
-- Returns the ids whose token is gone: the job finished meanwhile (the worker tells that
-- apart: see housekeeping.py), or it stalled and was put back.
local now = now_ms()
local duration = tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', K.tokens, id) == token then
    redis.call('ZADD', K.locks, now + duration, id)
  else
    table.insert(lost, id)
  end
end
return lost

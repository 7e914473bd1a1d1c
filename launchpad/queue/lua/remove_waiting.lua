-- drain: remove the jobs that wait or are delayed (not active, completed or failed ones).
-- Returns how many were removed.
local n = 0
for _, list in ipairs({K.wait, K.paused}) do
  for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do
    if id ~= MARKER then remove_job(id); n = n + 1 end
  end
  redis.call('DEL', list)
end
if redis.call('LPOS', K.active, MARKER) == false then redis.call('HDEL', K.meta, 'marker') end
for _, id in ipairs(redis.call('ZRANGE', K.delayed, 0, -1)) do remove_job(id); n = n + 1 end
redis.call('DEL', K.delayed)
return n

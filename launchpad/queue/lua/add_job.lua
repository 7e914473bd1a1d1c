-- add_job: a new job goes to `wait` (or `paused`, or `delayed` when it has a delay).
-- ARGV: job id ('' = next automatic id), job JSON, delay ms
-- Returns {id, JSON, duplicate 0|1, state, added ms}.
-- An id that exists, in ANY state, is a no-op: the existing job is returned unchanged.
local id = ARGV[1]
if id == '' then
  id = tostring(redis.call('INCR', K.id))
else
  local existing = redis.call('HGET', K.jobs, id)
  if existing then
    return {id, existing, 1, redis.call('HGET', K.states, id) or 'waiting',
            redis.call('HGET', K.added, id) or '0'}
  end
end
local now = now_ms()
local delay = tonumber(ARGV[3])
local state = 'waiting'
redis.call('HSET', K.jobs, id, ARGV[2])
redis.call('HSET', K.added, id, now)
if delay > 0 then
  state = 'delayed'
  redis.call('ZADD', K.delayed, now + delay, id)
else
  redis.call('LPUSH', waiting_list(), id)
end
redis.call('HSET', K.states, id, state)
return {id, ARGV[2], 0, state, tostring(now)}

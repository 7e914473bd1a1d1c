-- add_job: new jobs go to `wait` (or `paused`, or `delayed` when they have a delay).
-- ARGV: one or more triples of job id ('' = next automatic id), job JSON, delay ms.
-- Returns, per job, {id, JSON, duplicate 0|1, state, added ms}.
-- An id that exists, in ANY state, is a no-op: the existing job is returned unchanged.
local now = now_ms()
local target = waiting_list()
local reply = {}
for i = 1, #ARGV, 3 do
  local id, record, delay = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local existing = false
  if id == '' then
    id = tostring(redis.call('INCR', K.id))
  else
    existing = redis.call('HGET', K.jobs, id)
  end
  if existing then
    table.insert(reply, {id, existing, 1, redis.call('HGET', K.states, id) or 'waiting',
                         redis.call('HGET', K.added, id) or '0'})
  else
    local state = 'waiting'
    redis.call('HSET', K.jobs, id, record)
    redis.call('HSET', K.added, id, now)
    if delay > 0 then
      state = 'delayed'
      redis.call('ZADD', K.delayed, now + delay, id)
    else
      redis.call('LPUSH', target, id)
    end
    redis.call('HSET', K.states, id, state)
    table.insert(reply, {id, record, 0, state, tostring(now)})
  end
end
return reply

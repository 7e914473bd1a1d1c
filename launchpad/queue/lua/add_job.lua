-- add_job: new jobs go to `wait` (or `paused`, or `delayed` when they have a delay).
-- ARGV: one or more triples of job id ('' = next automatic id), job JSON, delay ms.
-- Returns, per job, {id, duplicate 0|1, state, added ms, JSON of the existing job | ''}.
-- An id that exists, in ANY state, is a no-op: the existing job is returned unchanged.
local now = now_ms()
local reply, records, added, states, waiting, delayed = {}, {}, {}, {}, {}, {}
local seen = {}  -- ids added by this call (one id twice in one bulk: the first wins)
for i = 1, #ARGV, 3 do
  local id, record, delay = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  -- --8<-- [start:dedup]
  local existing = false
  if id == '' then
    id = tostring(redis.call('INCR', K.id))
  elseif seen[id] then
    existing = seen[id]
  else
    existing = redis.call('HGET', K.jobs, id)
  end
  if existing then
    local state = redis.call('HGET', K.states, id) or (delay > 0 and 'delayed') or 'waiting'
    table.insert(reply, {id, 1, state, redis.call('HGET', K.added, id) or tostring(now), existing})
  -- --8<-- [end:dedup]
  else
    seen[id] = record
    local state = 'waiting'
    if delay > 0 then
      state = 'delayed'
      table.insert(delayed, now + delay)
      table.insert(delayed, id)
    else
      table.insert(waiting, id)
    end
    for _, pair in ipairs({{records, record}, {added, now}, {states, state}}) do
      table.insert(pair[1], id)
      table.insert(pair[1], pair[2])
    end
    table.insert(reply, {id, 0, state, tostring(now), ''})
  end
end
-- One write per structure for the whole batch (at most 1,000 jobs per call).
if #records > 0 then
  redis.call('HSET', K.jobs, unpack(records))
  redis.call('HSET', K.added, unpack(added))
  redis.call('HSET', K.states, unpack(states))
end
if #waiting > 0 then redis.call('LPUSH', waiting_list(), unpack(waiting)) end
if #delayed > 0 then redis.call('ZADD', K.delayed, unpack(delayed)) end
return reply

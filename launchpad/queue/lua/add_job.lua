-- add_job: new jobs go to `wait` (or `paused`, or `delayed` when they have a delay).
-- ARGV: one or more triples of job id ('' = next automatic id), job JSON, delay ms.
-- Returns, per job, {id, 0, state, added ms} for a new job, or {id, 1, all the fields of
-- the job that was there (see job_fields)} for a duplicate.
-- An id that exists, in ANY state, is a no-op: the existing job is returned unchanged.
local now = now_ms()
local reply, records, added, states, waiting, delayed = {}, {}, {}, {}, {}, {}
local seen = {}  -- ids added by this call (one id twice in one bulk: the first wins)
local first_due, soonest = next_due(), nil  -- to wake a worker for a job due sooner
for i = 1, #ARGV, 3 do
  local id, record, delay = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  -- --8<-- [start:dedup]
  local existing = nil
  if id == '' then
    id = tostring(redis.call('INCR', K.id))
  elseif seen[id] then  -- added earlier in this same call (written at the end)
    existing = {seen[id][1], seen[id][2], tostring(now), '', '', '0', '0', '', '', ''}
  else
    existing = job_fields(id)
  end
  if existing then
    table.insert(reply, {id, 1, unpack(existing)})
  -- --8<-- [end:dedup]
  else
    local state = 'waiting'
    if delay > 0 then
      state = 'delayed'
      table.insert(delayed, now + delay)
      table.insert(delayed, id)
      if not soonest or now + delay < soonest then soonest = now + delay end
    else
      table.insert(waiting, id)
    end
    for _, pair in ipairs({{records, record}, {added, now}, {states, state}}) do
      table.insert(pair[1], id)
      table.insert(pair[1], pair[2])
    end
    seen[id] = {record, state}
    table.insert(reply, {id, 0, state, tostring(now)})
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
wake_if_sooner(soonest, first_due)
return reply

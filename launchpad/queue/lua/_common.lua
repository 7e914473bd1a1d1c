-- Shared by every script (scripts.py puts it in front of each one, after the table K,
-- which maps each key part of keys.py to its name in KEYS: K.wait, K.active, K.jobs ...).

-- Time comes from Redis, so every worker and producer agrees on it.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The wake-up marker (BullMQ's idea): an id no job can have (automatic ids start at 1, custom
-- ids may not be plain numbers). A worker with nothing to do blocks on `wait` with BLMOVE
-- until the next delayed job is due; when a job becomes due sooner than that (a delayed add,
-- a retry with backoff), a marker pushed into the empty `wait` wakes one blocked worker, which
-- finds no job behind it, looks at `delayed` again and blocks only until the new job is due.
-- `meta.marker` is set while a marker is in a list (at most one at a time).
local MARKER = '0'
local marker_seen = false  -- set when this script took a marker out of `wait` (lock_job)

-- While the queue is paused its waiting jobs live in `paused` (see pause.lua).
local function waiting_list()
  if redis.call('HGET', K.meta, 'paused') then return K.paused end
  return K.wait
end

-- Forget a job's attributes (a finished or waiting job: it holds no lock or token).
local function remove_job(id)
  for _, part in ipairs({'jobs', 'states', 'added', 'processed', 'finished', 'attempts',
                         'stalls', 'results', 'errors', 'stacks'}) do
    redis.call('HDEL', K[part], id)
  end
end

-- Retention: keep = 'all' keeps every finished job, 'N' keeps the newest N, '0' none.
-- A removed job frees its id for a new add.
local function finish_into(set, id, now, keep)
  if keep == '0' then
    remove_job(id)
    return
  end
  redis.call('ZADD', set, now, id)
  if keep ~= 'all' then
    local old = redis.call('ZRANGE', set, 0, -(tonumber(keep) + 1))
    for _, old_id in ipairs(old) do
      remove_job(old_id)
      redis.call('ZREM', set, old_id)
    end
  end
end

-- Due delayed jobs go to the FRONT of the waiting list: they have waited long enough.
local function promote_due(now)
  local due = redis.call('ZRANGEBYSCORE', K.delayed, '-inf', now, 'LIMIT', 0, 1000)
  if #due == 0 then return 0 end
  local target = waiting_list()
  for _, id in ipairs(due) do
    redis.call('ZREM', K.delayed, id)
    redis.call('RPUSH', target, id)
    redis.call('HSET', K.states, id, 'waiting')
  end
  return #due
end

-- Lock a job that is in `active` for one worker run and hand it out.
local function lock_job(id, token, now, duration)
  local record = redis.call('HGET', K.jobs, id)
  if not record then
    redis.call('LREM', K.active, 1, id)  -- a leftover id without a job, or a marker: drop it
    if id == MARKER then
      redis.call('HDEL', K.meta, 'marker')
      marker_seen = true
    end
    return nil
  end
  redis.call('ZADD', K.locks, now + duration, id)
  redis.call('HSET', K.tokens, id, token)
  redis.call('HSET', K.states, id, 'active')
  redis.call('HSET', K.processed, id, now)
  return {'job', id, record, redis.call('HGET', K.attempts, id) or '0',
          redis.call('HGET', K.added, id) or '0', tostring(now)}
end

-- The next waiting job, locked; or {'none', ms until the next delayed job is due | -1}.
local function take_next(token, now, duration)
  promote_due(now)
  for _ = 1, 100 do
    local id = redis.call('RPOPLPUSH', K.wait, K.active)
    if not id then break end
    local job = lock_job(id, token, now, duration)
    if job then return job end
  end
  local first = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  if #first == 0 then return {'none', '-1'} end
  return {'none', tostring(math.max(tonumber(first[2]) - now, 0))}
end

-- The due time (ms) of the delayed job that comes first, or nil.
local function next_due()
  local first = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  if #first == 0 then return nil end
  return tonumber(first[2])
end

-- Wake one blocked worker (see MARKER). Not needed while `wait` holds jobs (a worker busy
-- with them looks at `delayed` as it takes each one) or while paused (nobody may take).
local function wake_a_worker()
  if redis.call('HGET', K.meta, 'paused') or redis.call('HGET', K.meta, 'marker') then return end
  if redis.call('LLEN', K.wait) > 0 then return end
  redis.call('LPUSH', K.wait, MARKER)
  redis.call('HSET', K.meta, 'marker', '1')
end

-- Wake a worker when a job due at `due` comes before `first_due` (what came first before).
local function wake_if_sooner(due, first_due)
  if due and (not first_due or due < first_due) then wake_a_worker() end
end

-- 1 when the marker is in `list` (only looked for while one exists), else 0: for counts.
local function marker_in(list)
  if not redis.call('HGET', K.meta, 'marker') then return 0 end
  if redis.call('LPOS', list, MARKER, 'RANK', -1) then return 1 end
  return 0
end

-- Everything known about a job: {JSON, state, added, processed, finished, attempts,
-- stalls, result, error, stack} ('' for what is not set), or nil when there is no job.
local function job_fields(id)
  local record = redis.call('HGET', K.jobs, id)
  if not record then return nil end
  local fields = {record}
  for _, part in ipairs({'states', 'added', 'processed', 'finished', 'attempts', 'stalls',
                         'results', 'errors', 'stacks'}) do
    table.insert(fields, redis.call('HGET', K[part], id) or '')
  end
  return fields
end

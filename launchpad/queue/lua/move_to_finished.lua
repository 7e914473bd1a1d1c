-- move_to_finished: record the outcomes of one or more runs and hand out the next job for
-- each, so a busy worker needs at most one round trip per job (fewer when several of its
-- slots finish while a call is on its way: they share the next one, see recorder.py).
-- Whether a failed run is retried is decided before (launchpad/queue/retry.py): `retry_in`
-- is the ms to wait, or -1 to fail the job for good. This script only carries it out.
local keep_completed, keep_failed, lock_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
-- keep_*: how many finished jobs to keep ('0' = remove at once, 'all' = all);
-- lock_ms: how long a job handed out stays locked. Then one group of RUN_ARGS per run:
local RUN_ARGS = 7
-- id, token, outcome, value, stack, retry_in, next_token
-- outcome: 'completed' | 'failed' | 'returned'; value: the result JSON or the failure
-- reason; next_token: take the next job for this token, or '' for none.
-- Returns one reply per run: {'lost'} when the token does not hold the job (it stalled and
-- may have been taken), else {outcome ('completed'|'retried'|'failed'|'returned'), attempts
-- made, then the next job {'job', id, record, attempts, added, processed} or {'none', ms}}.

local now = now_ms()
local first_due = next_due()
local soonest_retry

local function finish(id, token, outcome, value, stack, retry_in)
  -- --8<-- [start:lock_check]
  if redis.call('HGET', K.tokens, id) ~= token then return nil end
  -- --8<-- [end:lock_check]
  redis.call('LREM', K.active, -1, id)
  redis.call('ZREM', K.locks, id)
  redis.call('HDEL', K.tokens, id)
  local made
  if outcome == 'returned' then
    -- The run was interrupted (the worker is stopping): back to the front of the line,
    -- no attempt counted, nothing recorded.
    made = tonumber(redis.call('HGET', K.attempts, id) or '0')
    redis.call('RPUSH', waiting_list(), id)
    redis.call('HSET', K.states, id, 'waiting')
  elseif outcome == 'completed' and keep_completed == '0' then
    -- Fast path (remove_on_complete=True): the job is deleted at once, so write nothing and
    -- delete only what it can have; errors exist only if an earlier attempt failed.
    made = tonumber(redis.call('HGET', K.attempts, id) or '0') + 1
    for _, part in ipairs({'jobs', 'states', 'added', 'processed', 'stalls'}) do
      redis.call('HDEL', K[part], id)
    end
    if made > 1 then
      for _, part in ipairs({'attempts', 'errors', 'stacks'}) do redis.call('HDEL', K[part], id) end
    end
  elseif outcome == 'completed' then
    made = redis.call('HINCRBY', K.attempts, id, 1)
    redis.call('HSET', K.results, id, value)
    redis.call('HSET', K.finished, id, now)
    redis.call('HSET', K.states, id, 'completed')
    finish_into(K.completed, id, now, keep_completed)
  else
    made = redis.call('HINCRBY', K.attempts, id, 1)
    redis.call('HSET', K.errors, id, value)
    redis.call('HSET', K.stacks, id, stack)
    local delay = tonumber(retry_in)
    if delay >= 0 then
      outcome = 'retried'
      if delay > 0 then
        local due = now + delay
        redis.call('ZADD', K.delayed, due, id)
        redis.call('HSET', K.states, id, 'delayed')
        if not soonest_retry or due < soonest_retry then soonest_retry = due end
      else
        redis.call('LPUSH', waiting_list(), id)
        redis.call('HSET', K.states, id, 'waiting')
      end
    else
      redis.call('HSET', K.finished, id, now)
      redis.call('HSET', K.states, id, 'failed')
      finish_into(K.failed, id, now, keep_failed)
    end
  end
  return {outcome, made}
end

local replies = {}
for i = 4, #ARGV, RUN_ARGS do
  local id, token, outcome, value, stack, retry_in, next_token = unpack(ARGV, i, i + RUN_ARGS - 1)
  local reply = finish(id, token, outcome, value, stack, retry_in) or {'lost'}
  if reply[1] ~= 'lost' and next_token ~= '' then
    for _, v in ipairs(take_next(next_token, now, lock_ms)) do table.insert(reply, v) end
  end
  table.insert(replies, reply)
end
-- A retry may be due before the time a blocked worker waits for; and a marker taken here
-- (not by a blocked worker) is passed on.
wake_if_sooner(soonest_retry, first_due)
if marker_seen then wake_a_worker() end
return replies

-- move_to_finished: record one run's outcome, then (optionally) hand out the next job, so a
-- busy worker needs one round trip per job.
-- Whether a failed run is retried is decided before (launchpad/queue/retry.py): `retry_in`
-- is the ms to wait, or -1 to fail the job for good. This script only carries it out.
-- Returns {'lost'} when the token does not hold the job (it stalled and may have been
-- taken), else {outcome ('completed'|'retried'|'failed'|'returned'), attempts made, next...}.
local id, token, outcome, value, stack, retry_in, keep_completed, keep_failed,
      fetch_next, next_token, lock_ms = unpack(ARGV)
-- outcome: 'completed' | 'failed' | 'returned'; value: the result JSON or the failure
-- reason; keep_*: how many finished jobs to keep ('0' = remove at once, 'all' = all);
-- fetch_next '1': take the next job for `next_token`, locked for `lock_ms`.
-- --8<-- [start:lock_check]
if redis.call('HGET', K.tokens, id) ~= token then return {'lost'} end
-- --8<-- [end:lock_check]
redis.call('LREM', K.active, -1, id)
redis.call('ZREM', K.locks, id)
redis.call('HDEL', K.tokens, id)
local now = now_ms()
local made, retry_due
local first_due = next_due()
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
      retry_due = now + delay
      redis.call('ZADD', K.delayed, retry_due, id)
      redis.call('HSET', K.states, id, 'delayed')
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
local reply = {outcome, made}
if fetch_next == '1' then
  for _, v in ipairs(take_next(next_token, now, tonumber(lock_ms))) do table.insert(reply, v) end
end
-- The retry may be due before the time a blocked worker waits for; and a marker taken here
-- (not by a blocked worker) is passed on.
wake_if_sooner(retry_due, first_due)
if marker_seen then wake_a_worker() end
return reply

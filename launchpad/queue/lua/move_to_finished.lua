-- move_to_finished: record one run's outcome, then (optionally) hand out the next job, so a
-- busy worker needs one round trip per job.
-- ARGV: id, token, 'completed'|'failed'|'returned', result JSON | failure reason, stack,
--       max attempts, retry delay ms, unrecoverable 0|1, keep completed, keep failed,
--       fetch next 0|1, next token, lock duration ms
-- Returns {'lost'} when the token does not hold the job (it stalled and may have been
-- taken), else {outcome ('completed'|'retried'|'failed'|'returned'), attempts made, next...}.
local id, token, outcome = ARGV[1], ARGV[2], ARGV[3]
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
elseif outcome == 'completed' and ARGV[9] == '0' then
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
  redis.call('HSET', K.results, id, ARGV[4])
  redis.call('HSET', K.finished, id, now)
  redis.call('HSET', K.states, id, 'completed')
  finish_into(K.completed, id, now, ARGV[9])
else
  made = redis.call('HINCRBY', K.attempts, id, 1)
  redis.call('HSET', K.errors, id, ARGV[4])
  redis.call('HSET', K.stacks, id, ARGV[5])
  local delay = tonumber(ARGV[7])
  if ARGV[8] == '0' and made < tonumber(ARGV[6]) then
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
    finish_into(K.failed, id, now, ARGV[10])
  end
end
local reply = {outcome, made}
if ARGV[11] == '1' then
  for _, v in ipairs(take_next(ARGV[12], now, tonumber(ARGV[13]))) do table.insert(reply, v) end
end
-- The retry may be due before the time a blocked worker waits for; and a marker taken here
-- (not by a blocked worker) is passed on.
wake_if_sooner(retry_due, first_due)
if marker_seen then wake_a_worker() end
return reply

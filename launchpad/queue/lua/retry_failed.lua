-- retry_failed: move failed jobs back to `waiting` (BullMQ's retryJobs, RQ's requeue).
-- ARGV: reset attempts '0'|'1', cutoff ms ('' = now), limit, then job ids (none = take up to
--       `limit` failed jobs that failed at or before the cutoff, oldest first).
-- Each job is checked and moved in this one script, so a job retried twice at once (two
-- operators, one command run twice) is queued once: the second finds it no longer failed.
-- A retried job goes to the back of the line, like a new add. Its last failure reason stays
-- until the next run overwrites it; its stall count starts again; its attempts made start
-- again only when asked (else it gets one more run: `made < attempts` is already false).
-- Returns {cutoff, {{id, 'retried'|'missing'|'not-failed', state now}, ...}}.
local reset, limit = ARGV[1] == '1', tonumber(ARGV[3])
local cutoff = ARGV[2]
if cutoff == '' then cutoff = tostring(now_ms()) end
local ids = {}
for i = 4, #ARGV do table.insert(ids, ARGV[i]) end
if #ids == 0 then
  ids = redis.call('ZRANGEBYSCORE', K.failed, '-inf', cutoff, 'LIMIT', 0, limit)
end
local results = {}
for _, id in ipairs(ids) do
  -- --8<-- [start:retry_one]
  if not redis.call('HGET', K.jobs, id) then
    redis.call('ZREM', K.failed, id)  -- a leftover id without a job: drop it
    table.insert(results, {id, 'missing', ''})
  elseif redis.call('ZREM', K.failed, id) == 0 then
    table.insert(results, {id, 'not-failed', redis.call('HGET', K.states, id) or ''})
  else
    if reset then redis.call('HDEL', K.attempts, id) end
    redis.call('HDEL', K.stalls, id)
    redis.call('HDEL', K.finished, id)
    redis.call('HSET', K.states, id, 'waiting')
    redis.call('LPUSH', waiting_list(), id)
    table.insert(results, {id, 'retried', 'waiting'})
  end
  -- --8<-- [end:retry_one]
end
return {cutoff, results}

-- move_stalled_to_wait: find active jobs whose worker died and put them back.
-- ARGV: max stalled count, check interval ms, force 0|1 (tests: ignore the interval)
-- A job is stalled when it was in `active` at the previous check and its lock has expired
-- now. The two steps give a job moved by BLMOVE time to get its lock. A job that stalls
-- more than `max stalled count` times fails instead.
-- Returns {{ids put back}, {ids failed}}.
local max_stalled, interval_ms, force = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
if not force then
  if not redis.call('SET', K['stalled-check'], '1', 'PX', interval_ms, 'NX') then
    return {{}, {}}
  end
end
local now = now_ms()
local back, failed = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', K.stalled)) do
  if id == MARKER then  -- its worker died between BLMOVE and locking: drop it
    if redis.call('LREM', K.active, 0, MARKER) > 0 then redis.call('HDEL', K.meta, 'marker') end
  end
  local expiry = redis.call('ZSCORE', K.locks, id)
  if id ~= MARKER and (not expiry or tonumber(expiry) < now)
      and redis.call('LREM', K.active, 1, id) > 0 then
    redis.call('ZREM', K.locks, id)
    redis.call('HDEL', K.tokens, id)
    local count = redis.call('HINCRBY', K.stalls, id, 1)
    if count > max_stalled then
      redis.call('HSET', K.errors, id, 'job stalled more than allowable limit')
      redis.call('HSET', K.finished, id, now)
      redis.call('HSET', K.states, id, 'failed')
      redis.call('ZADD', K.failed, now, id)
      table.insert(failed, id)
    else
      redis.call('RPUSH', waiting_list(), id)
      redis.call('HSET', K.states, id, 'waiting')
      table.insert(back, id)
    end
  end
end
redis.call('DEL', K.stalled)
local active = redis.call('LRANGE', K.active, 0, -1)
for i = 1, #active, 1000 do
  redis.call('SADD', K.stalled, unpack(active, i, math.min(i + 999, #active)))
end
return {back, failed}

-- remove_failed: delete one failed job and everything stored about it; its id is free again.
-- ARGV: id. Returns {'removed'|'missing'|'not-failed', state now}. Only a failed job is
-- removed: a waiting, delayed or active one is left alone (drain or a worker handles those).
local id = ARGV[1]
if not redis.call('HGET', K.jobs, id) then
  redis.call('ZREM', K.failed, id)
  return {'missing', ''}
end
if redis.call('ZREM', K.failed, id) == 0 then
  return {'not-failed', redis.call('HGET', K.states, id) or ''}
end
remove_job(id)
return {'removed', ''}

-- pause / resume: ARGV = {'1'} pauses, {'0'} resumes.
-- Pausing renames `wait` to `paused`, so a worker blocked on `wait` sees an empty list and
-- fetches nothing; jobs in hand finish. Resuming renames it back, which wakes the workers.
local pausing = ARGV[1] == '1'
if pausing then
  if redis.call('HGET', K.meta, 'paused') then return 0 end
  redis.call('HSET', K.meta, 'paused', '1')
  if redis.call('EXISTS', K.wait) == 1 then redis.call('RENAME', K.wait, K.paused) end
else
  if not redis.call('HGET', K.meta, 'paused') then return 0 end
  redis.call('HDEL', K.meta, 'paused')
  if redis.call('EXISTS', K.paused) == 1 then redis.call('RENAME', K.paused, K.wait) end
end
return 1

-- move_to_active: lock a job for a worker run.
-- ARGV: token, lock duration ms, job id ('' = take the next waiting job; an id = a job the
--       worker already moved into `active` with a blocking BLMOVE)
-- Returns {'job', id, JSON, attempts, added, processed} or {'none', ms to next due | -1}.
local now = now_ms()
local token, duration, id = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if id == '' then return take_next(token, now, duration) end
promote_due(now)
-- A stall check may have put the job back between the BLMOVE and now: then it is not ours.
if not redis.call('LPOS', K.active, id) or redis.call('HGET', K.tokens, id) then
  return take_next(token, now, duration)
end
return lock_job(id, token, now, duration) or take_next(token, now, duration)

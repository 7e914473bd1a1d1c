-- list_jobs: one page of the jobs in one state, read atomically (for `launchpad jobs`).
-- ARGV: state ('waiting'|'active'|'delayed'|'completed'|'failed'), start, count.
-- Order: waiting = next to run first; active = most recently taken first; delayed = soonest
-- due first; completed and failed = most recently finished first.
-- Returns {total in that state, {id, score, job_fields...}, ...}; score is the due time
-- (delayed) or finish time (completed, failed), '' for the lists. An id whose job record is
-- gone (it cannot happen through the scripts, but a hand-edited key can) is left out.
local state, start, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local stop = start + count - 1
local total, ids, scores = 0, {}, {}
if state == 'waiting' or state == 'active' then
  local list = K.active
  if state == 'waiting' then list = waiting_list() end
  total = redis.call('LLEN', list) - marker_in(list)  -- a wake-up marker is no job
  if state == 'waiting' then
    -- the worker takes from the right end: read from there, next to run first
    local page = redis.call('LRANGE', list, -(stop + 1), -(start + 1))
    for i = #page, 1, -1 do table.insert(ids, page[i]) end
  else
    ids = redis.call('LRANGE', list, start, stop)
  end
else
  local set = K[state]
  total = redis.call('ZCARD', set)
  local page
  if state == 'delayed' then
    page = redis.call('ZRANGE', set, start, stop, 'WITHSCORES')
  else
    page = redis.call('ZREVRANGE', set, start, stop, 'WITHSCORES')
  end
  for i = 1, #page, 2 do
    table.insert(ids, page[i])
    scores[page[i]] = page[i + 1]
  end
end
local reply = {total}
for _, id in ipairs(ids) do
  local fields = job_fields(id)
  if fields then table.insert(reply, {id, scores[id] or '', unpack(fields)}) end
end
return reply

-- promote_delayed: move due delayed jobs to the front of the waiting list.
-- Returns {jobs promoted, ms until the next delayed job is due | -1}.
local now = now_ms()
local n = promote_due(now)
local first = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
if #first == 0 then return {n, -1} end
return {n, math.max(tonumber(first[2]) - now, 0)}

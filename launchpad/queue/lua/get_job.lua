-- get_job: everything known about one job, or {} when there is no such job.
-- ARGV: id. Returns {JSON, state, added, processed, finished, attempts, stalls,
-- result, error, stack}; a missing attribute is ''.
local id = ARGV[1]
local record = redis.call('HGET', K.jobs, id)
if not record then return {} end
local reply = {record}
for _, part in ipairs({'states', 'added', 'processed', 'finished', 'attempts', 'stalls',
                       'results', 'errors', 'stacks'}) do
  table.insert(reply, redis.call('HGET', K[part], id) or '')
end
return reply

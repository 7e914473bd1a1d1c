-- get_job: everything known about one job (see job_fields), or {} when there is no such job.
-- ARGV: id.
return job_fields(ARGV[1]) or {}

-- counts: how many jobs are in each state, read atomically.
return {redis.call('LLEN', K.wait) + redis.call('LLEN', K.paused), redis.call('LLEN', K.active),
        redis.call('ZCARD', K.delayed), redis.call('ZCARD', K.completed),
        redis.call('ZCARD', K.failed)}

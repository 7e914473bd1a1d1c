-- counts: how many jobs are in each state, read atomically (a wake-up marker is no job).
return {redis.call('LLEN', K.wait) + redis.call('LLEN', K.paused)
          - marker_in(K.wait) - marker_in(K.paused),
        redis.call('LLEN', K.active) - marker_in(K.active),
        redis.call('ZCARD', K.delayed), redis.call('ZCARD', K.completed),
        redis.call('ZCARD', K.failed)}

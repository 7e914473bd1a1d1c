-- obliterate: delete every key of the queue (demos and tests). Returns keys deleted.
return redis.call('DEL', unpack(KEYS))

-- KEYS: pm, epoch
-- {epoch, seq, newest epoch of the cluster}: where a channel's events are.
local m = redis.call('HMGET', KEYS[1], 'e', 's')
return {m[1] or '0', m[2] or '0', redis.call('GET', KEYS[2]) or '0'}

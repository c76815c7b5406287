-- KEYS: pe, pm
-- The channel's presences and the (epoch, sequence) they are at, read in
-- one step: {epoch, seq, conn1, entry1, ...}. An empty channel is epoch 0.
local m = redis.call('HMGET', KEYS[2], 'e', 's')
local out = {m[1] or '0', m[2] or '0'}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do out[#out + 1] = all[i] end
return out

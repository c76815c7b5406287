-- KEYS: pe, pm, hm
-- The channel's presences and the (epoch, sequence) they are at, and its
-- history's epoch and top offset, read in one step:
-- {epoch, seq, history epoch, top, conn1, entry1, ...}. An empty channel
-- is epoch 0; a channel without history has history epoch ''.
local m = redis.call('HMGET', KEYS[2], 'e', 's')
local h = redis.call('HMGET', KEYS[3], 'e', 't')
local out = {m[1] or '0', m[2] or '0', h[1] or '', h[2] or '0'}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do out[#out + 1] = all[i] end
return out

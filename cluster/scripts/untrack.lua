-- KEYS: hb, pe, pu, pm, po, opc
-- ARGV: incarnation, topic, conn, channel
-- Untracks conn, bumps the sequence and publishes the event; 0 when conn
-- is not tracked. The last presence of a channel takes its pm with it.
if fenced(KEYS[1], ARGV[1]) then return redis.error_reply('FENCED') end
local e = redis.call('HGET', KEYS[2], ARGV[3])
if not e then return 0 end
local _, user = split_entry(e)
redis.call('HDEL', KEYS[2], ARGV[3])
drop_user(KEYS[3], user)
redis.call('SREM', KEYS[5], ARGV[3])
if redis.call('SCARD', KEYS[5]) == 0 then
  redis.call('SREM', KEYS[6], ARGV[4])
end
local epoch = redis.call('HGET', KEYS[4], 'e') or '0'
local seq = redis.call('HINCRBY', KEYS[4], 's', 1)
redis.call('PUBLISH', ARGV[2], 'U\0' .. epoch .. '\0' .. seq .. '\0' .. ARGV[3])
if redis.call('HLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[4])
end
return seq

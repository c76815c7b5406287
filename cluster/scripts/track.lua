-- KEYS: hb, pe, pu, pm, po, opc, epoch
-- ARGV: incarnation, topic, conn, user key, meta, channel
-- Tracks conn, bumps the channel's sequence and publishes the event, in one
-- step. 0 when conn is tracked already (nothing changes).
if fenced(KEYS[1], ARGV[1]) then return redis.error_reply('FENCED') end
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
local epoch = redis.call('HGET', KEYS[4], 'e')
if not epoch then
  epoch = tostring(redis.call('INCR', KEYS[7]))
  redis.call('HSET', KEYS[4], 'e', epoch)
end
local seq = redis.call('HINCRBY', KEYS[4], 's', 1)
redis.call('HSET', KEYS[2], ARGV[3], seq .. '\0' .. ARGV[4] .. '\0' .. ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('SADD', KEYS[6], ARGV[6])
redis.call('PUBLISH', ARGV[2], 'T\0' .. epoch .. '\0' .. seq .. '\0' .. ARGV[3] .. '\0' .. ARGV[4] .. '\0' .. ARGV[5])
return seq

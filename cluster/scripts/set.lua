-- KEYS: hb, pe, pm
-- ARGV: incarnation, topic, conn, meta, '1' to move the meta to the end
-- Replaces conn's meta, bumps the sequence and publishes the event; 0 when
-- conn is not tracked.
if fenced(KEYS[1], ARGV[1]) then return redis.error_reply('FENCED') end
local e = redis.call('HGET', KEYS[2], ARGV[3])
if not e then return 0 end
local pos, user = split_entry(e)
local epoch = redis.call('HGET', KEYS[3], 'e') or '0'
local seq = redis.call('HINCRBY', KEYS[3], 's', 1)
if ARGV[5] == '1' then pos = seq end
redis.call('HSET', KEYS[2], ARGV[3], pos .. '\0' .. user .. '\0' .. ARGV[4])
redis.call('PUBLISH', ARGV[2], 'S\0' .. epoch .. '\0' .. seq .. '\0' .. ARGV[3] .. '\0' .. ARGV[4])
return seq

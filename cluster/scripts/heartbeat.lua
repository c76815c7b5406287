-- KEYS: hb   ARGV: incarnation, ttl ms
-- Extends the heartbeat; 0 when it is gone or belongs to another incarnation.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0

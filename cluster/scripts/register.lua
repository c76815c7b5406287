-- KEYS: hb, nodes   ARGV: node, incarnation, ttl ms
-- Starts an incarnation: 0 when another one still has a live heartbeat.
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1

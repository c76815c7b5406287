-- KEYS: nodes   ARGV: node, incarnation
-- Removes a reaped incarnation from nodes unless a newer one replaced it.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0

-- KEYS: hb   ARGV: incarnation
-- Ends an incarnation's heartbeat (leaving, or giving it up to re-announce).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0

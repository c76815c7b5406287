-- KEYS: hb, oc   ARGV: incarnation, '+' or '-', conn
if fenced(KEYS[1], ARGV[1]) then return redis.error_reply('FENCED') end
if ARGV[2] == '+' then
  return redis.call('SADD', KEYS[2], ARGV[3])
end
return redis.call('SREM', KEYS[2], ARGV[3])

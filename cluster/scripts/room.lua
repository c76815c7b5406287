-- KEYS: hb, or, om   ARGV: incarnation, '+' or '-', conn, channel
if fenced(KEYS[1], ARGV[1]) then return redis.error_reply('FENCED') end
if ARGV[2] == '+' then
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[4])
  return 1
end
redis.call('SREM', KEYS[3], ARGV[3])
if redis.call('SCARD', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[4])
end
return 1

-- KEYS: hm, h
-- ARGV: epoch candidate, size, ttl (ms), topic, binary flag, payload,
--       publisher field (p:<node>), publication id ("<process>:<seq>")
-- Numbers a publication of a channel with history, appends it to the
-- stream (trimmed to size exactly), sets both keys' TTL and publishes it,
-- in one step. A channel without an epoch starts one with the candidate.
-- A publication this node published already (a pipeline sent again after
-- a transport error) changes nothing and answers 0; else the offset.
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = new_epoch(KEYS[1], KEYS[2], ARGV[1])
else
  local last = redis.call('HGET', KEYS[1], ARGV[7])
  if last then
    local proc, seq = string.match(last, '^(.*):(%d+)$')
    local nproc, nseq = string.match(ARGV[8], '^(.*):(%d+)$')
    if proc == nproc and tonumber(nseq) <= tonumber(seq) then return 0 end
  end
end
local top = redis.call('HINCRBY', KEYS[1], 't', 1)
redis.call('HSET', KEYS[1], ARGV[7], ARGV[8])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], top .. '-0', 'b', ARGV[5], 't', now_ms(), 'd', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], 'P\0' .. epoch .. '\0' .. top .. '\0' .. ARGV[5] .. '\0' .. ARGV[6])
return top

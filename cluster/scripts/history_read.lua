-- KEYS: hm, h
-- ARGV: epoch candidate, ttl (ms), since given ('1' or '0'), since epoch,
--       from offset, count (0: all, -1: none)
-- A channel's history position and publications, read in one step:
-- {epoch, top, first, offset1, flag1, payload1, ...}. first is the oldest
-- offset retained (top + 1 when none is): the publications older than the
-- TTL are not (they are trimmed away here). The publications returned are
-- those from max(from, first) on, at most count of them; none when since
-- is of another epoch. A channel without an epoch gets the candidate, and
-- every read extends the meta's TTL, so an empty channel's epoch stays
-- while it is read.
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = new_epoch(KEYS[1], KEYS[2], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local top = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local cut = tonumber(now_ms()) - tonumber(ARGV[2])
-- The expired publications are the oldest ones (usually none: look at the
-- oldest first).
local first, expired, start, batch = top + 1, false, '-', 1
while true do
  local es = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', batch)
  local found = false
  for _, e in ipairs(es) do
    if tonumber(e[2][4]) > cut then
      first, found = pub_offset(e), true
      break
    end
    expired = true
  end
  if found or #es < batch then break end
  start, batch = '(' .. es[#es][1], 64
end
if expired then
  redis.call('XTRIM', KEYS[2], 'MINID', first .. '-0')
end
local out = {epoch, top, first}
local count = tonumber(ARGV[6])
if count < 0 or (ARGV[3] == '1' and ARGV[4] ~= epoch) then return out end
local from = math.max(tonumber(ARGV[5]), first)
if from > top then return out end
local es
if count > 0 then
  es = redis.call('XRANGE', KEYS[2], from .. '-0', '+', 'COUNT', count)
else
  es = redis.call('XRANGE', KEYS[2], from .. '-0', '+')
end
for _, e in ipairs(es) do
  out[#out + 1] = pub_offset(e)
  out[#out + 1] = e[2][2]
  out[#out + 1] = e[2][6]
end
return out

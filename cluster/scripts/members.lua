-- KEYS: hb   ARGV: incarnation, prefix, owner, changes
-- Applies a run of queued registration and membership changes in their
-- order. changes is their concatenation, each
--   <what><conn>\0<length of channel>:<channel>
-- with what one of
--   'c+', 'c-'   registers or unregisters conn (oc); channel is empty
--   'r+', 'r-'   adds or removes conn as a member of channel (om), and
--                channel in or when its first member comes or last goes
if fenced(KEYS[1], ARGV[1]) then return redis.error_reply('FENCED') end
local own = ARGV[3]
local oc = ARGV[2] .. 'oc:' .. own
local orooms = ARGV[2] .. 'or:' .. own
local om = ARGV[2] .. 'om:' .. own .. ':'
local s, i = ARGV[4], 1
while i <= #s do
  local what = string.sub(s, i, i + 1)
  local z = string.find(s, '\0', i + 2, true)
  local colon = string.find(s, ':', z + 1, true)
  local conn = string.sub(s, i + 2, z - 1)
  local n = tonumber(string.sub(s, z + 1, colon - 1))
  local ch = string.sub(s, colon + 1, colon + n)
  i = colon + n + 1
  if what == 'c+' then
    redis.call('SADD', oc, conn)
  elseif what == 'c-' then
    redis.call('SREM', oc, conn)
  elseif what == 'r+' then
    redis.call('SADD', om .. ch, conn)
    redis.call('SADD', orooms, ch)
  else
    redis.call('SREM', om .. ch, conn)
    if redis.call('SCARD', om .. ch) == 0 then
      redis.call('SREM', orooms, ch)
    end
  end
end
return 1

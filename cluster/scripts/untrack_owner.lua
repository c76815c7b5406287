-- KEYS: pe, pu, pm, po, opc
-- ARGV: topic, channel
-- The reaper's untrack: removes every presence a dead incarnation had in
-- the channel and publishes ONE event naming exactly the connections it
-- deleted (none: no event, no sequence bump). Returns how many.
local conns = redis.call('SMEMBERS', KEYS[4])
local gone = {}
for _, c in ipairs(conns) do
  local e = redis.call('HGET', KEYS[1], c)
  if e then
    local _, user = split_entry(e)
    redis.call('HDEL', KEYS[1], c)
    drop_user(KEYS[2], user)
    gone[#gone + 1] = c
  end
end
redis.call('DEL', KEYS[4])
redis.call('SREM', KEYS[5], ARGV[2])
if #gone == 0 then return 0 end
local epoch = redis.call('HGET', KEYS[3], 'e') or '0'
local seq = redis.call('HINCRBY', KEYS[3], 's', 1)
redis.call('PUBLISH', ARGV[1], 'B\0' .. epoch .. '\0' .. seq .. '\0' .. table.concat(gone, '\0'))
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[3])
end
return #gone

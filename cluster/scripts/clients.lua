-- KEYS: nodes   ARGV: prefix, what ('count', 'all' or 'in'), channel
-- Cluster-wide connection count or ids (all, or the members of channel),
-- over the live incarnations only.
local nodes = redis.call('HGETALL', KEYS[1])
local n, out = 0, {}
for i = 1, #nodes, 2 do
  local node, inc = nodes[i], nodes[i + 1]
  if redis.call('GET', ARGV[1] .. 'hb:' .. node) == inc then
    local own = ARGV[1] .. 'oc:' .. node .. '@' .. inc
    if ARGV[2] == 'count' then
      n = n + redis.call('SCARD', own)
    else
      local key = own
      if ARGV[2] == 'in' then key = ARGV[1] .. 'om:' .. node .. '@' .. inc .. ':' .. ARGV[3] end
      local ids = redis.call('SMEMBERS', key)
      for _, id in ipairs(ids) do out[#out + 1] = id end
    end
  end
end
if ARGV[2] == 'count' then return n end
return out

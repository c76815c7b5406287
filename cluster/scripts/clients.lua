-- KEYS: nodes   ARGV: prefix, what ('count', 'count_in', 'all' or 'in'), channel
-- Cluster-wide connection count or ids (all, or the members of channel),
-- over the live incarnations only.
local nodes = redis.call('HGETALL', KEYS[1])
local counting = ARGV[2] == 'count' or ARGV[2] == 'count_in'
local n, out = 0, {}
for i = 1, #nodes, 2 do
  local node, inc = nodes[i], nodes[i + 1]
  if redis.call('GET', ARGV[1] .. 'hb:' .. node) == inc then
    local key = ARGV[1] .. 'oc:' .. node .. '@' .. inc
    if ARGV[2] == 'in' or ARGV[2] == 'count_in' then
      key = ARGV[1] .. 'om:' .. node .. '@' .. inc .. ':' .. ARGV[3]
    end
    if counting then
      n = n + redis.call('SCARD', key)
    else
      local ids = redis.call('SMEMBERS', key)
      for _, id in ipairs(ids) do out[#out + 1] = id end
    end
  end
end
if counting then return n end
return out

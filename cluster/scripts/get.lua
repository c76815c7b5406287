-- KEYS: pe   ARGV: user key
-- The entries of one user: {conn1, entry1, ...}.
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local _, user = split_entry(all[i + 1])
  if user == ARGV[1] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out

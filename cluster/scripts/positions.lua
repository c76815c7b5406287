-- KEYS: none   ARGV: prefix, then channels
-- The presence position (pm: epoch, sequence) and the history position
-- (hm: epoch, top offset) of each channel that has either, as
-- {i, e, s, history e, history t, ...} with i the channel's place in the
-- channels from 1 and '' for what is missing; channels with neither are
-- left out, so a node following many quiet channels reads a short answer.
local out = {}
for i = 2, #ARGV do
  local ch = ARGV[i]
  local p = redis.call('HMGET', ARGV[1] .. 'pm:' .. ch, 'e', 's')
  local h = redis.call('HMGET', ARGV[1] .. 'hm:' .. ch, 'e', 't')
  if p[1] or p[2] or h[1] or h[2] then
    out[#out + 1] = i - 1
    out[#out + 1] = p[1] or ''
    out[#out + 1] = p[2] or ''
    out[#out + 1] = h[1] or ''
    out[#out + 1] = h[2] or ''
  end
end
return out

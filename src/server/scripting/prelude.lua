-- The Lua side of Redis's scripting environment (script_lua.c / eval.c), run once when the
-- interpreter is created. `bridge` is a table shared with Rust: Rust puts the per-run
-- command callback in `bridge.call` and reads `bridge.run`, `bridge.globals`.
-- Chunk name "=redis": the error handler skips these frames to find the user's line.
local bridge = ...
local error, type, tostring, rawset, rawget, setmetatable, pairs, xpcall, select =
  error, type, tostring, rawset, rawget, setmetatable, pairs, xpcall, select
local dbg = debug
local G0 = {}
local setfenv, ipairs, pcall = setfenv, ipairs, pcall
local function fail(msg) error({err = 'ERR ' .. msg}) end

-- Removed from the base library, as Redis 7.0 does.
_G.loadfile = nil
_G.dofile = nil
_G.print = nil
_G.getfenv = nil
_G.setfenv = nil
_G.module = nil
_G.require = nil
_G.newproxy = nil
_G.package = nil
_G.debug = nil
_G.os = nil
_G.io = nil

local readonly_msg = "Attempt to modify a readonly table"
local protected = {}

-- A read-only view of `t`: reads go to `t`, writes raise Redis's error.
local function readonly(t)
  local proxy = setmetatable({}, {
    __index = t,
    __newindex = function() error(readonly_msg, 2) end,
    __metatable = false,
  })
  protected[proxy] = true
  return proxy
end
bridge.readonly = readonly

local r = bridge.redis
r.call = function(...)
  local ok, v = bridge.call(false, bridge.resp, bridge.repl, ...)
  if ok then return v end
  error(v)
end
r.pcall = function(...)
  local _, v = bridge.call(true, bridge.resp, bridge.repl, ...)
  return v
end
-- An error reply as Redis's luaPushErrorBuff shapes it: "-CODE msg" keeps its code, a
-- text without a space gets ERR.
local function error_table(e)
  if e:sub(1, 1) ~= '-' then e = '-' .. e end
  local sp = e:find(' ', 1, true)
  local code, msg
  if sp then code, msg = e:sub(2, sp - 1), e:sub(sp + 1) else code, msg = 'ERR', e:sub(2) end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end
r.error_reply = function(...)
  local e = ...
  if select('#', ...) ~= 1 or (type(e) ~= 'string' and type(e) ~= 'number') then
    return {err = "ERR wrong number or type of arguments"}
  end
  return error_table(tostring(e))
end
r.setresp = function(...)
  if select('#', ...) ~= 1 then fail("redis.setresp() requires one argument.") end
  local v = ...
  if v ~= 2 and v ~= 3 then fail("RESP version must be 2 or 3.") end
  bridge.resp = v
end
r.set_repl = function(...)
  if select('#', ...) ~= 1 then fail("redis.set_repl() requires one argument.") end
  local v = ...
  if type(v) ~= 'number' or v < 0 or v > 3 then
    fail("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
  end
  bridge.repl = v
end
r.replicate_commands = function() return true end
r.breakpoint = function() return false end
r.debug = function() end
r.log = function(...)
  if select('#', ...) < 2 then fail("redis.log() requires two arguments or more.") end
  local level = ...
  if type(level) ~= 'number' then fail("First argument must be a number (log level).") end
  if level < 0 or level > 3 then fail("Invalid debug level.") end
  bridge.log(...)
end
r.sha1hex = function(...)
  if select('#', ...) ~= 1 then fail("wrong number of arguments") end
  return bridge.sha1hex(...)
end
r.LOG_DEBUG, r.LOG_VERBOSE, r.LOG_NOTICE, r.LOG_WARNING = 0, 1, 2, 3
r.REPL_NONE, r.REPL_AOF, r.REPL_SLAVE, r.REPL_REPLICA, r.REPL_ALL = 0, 1, 2, 2, 3
r.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or (type(s) ~= 'string' and type(s) ~= 'number') then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {ok = tostring(s)}
end

-- The handler of every run: turns any error into Redis's error table, with the user's
-- source and line (frames of C functions and of this chunk are skipped).
local function err_handler(err)
  local lvl = 2
  local i = dbg.getinfo(lvl, 'nSlf')
  while i and (i.what == 'C' or i.source == '=redis') do
    lvl = lvl + 1
    i = dbg.getinfo(lvl, 'nSlf')
  end
  if type(err) == 'userdata' then
    -- An error from a Rust function: its message, placed as Lua places C errors.
    local msg, raw = bridge.errtext(err)
    if raw then
      err = {err = msg}
    else
      local where = i and (i.short_src .. ':' .. i.currentline .. ': ') or ''
      err = {err = 'ERR ' .. where .. msg}
    end
  elseif type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    rawset(err, 'source', i.source)
    rawset(err, 'line', i.currentline)
  end
  return err
end

-- One run (called by run.rs): RESP 2 and REPL_ALL again, KEYS/ARGV set for an EVAL
-- script, `keys, args` passed to a function. Returns true and the first result, or false
-- and the error table; then the RESP version the script ended with.
local function finish(ok, v) return ok, v, bridge.resp end
bridge.run = function(f, is_function, keys, argv)
  bridge.resp, bridge.repl = 2, 3
  if is_function then
    return finish(xpcall(function() return f(keys, argv) end, err_handler))
  end
  rawset(G0, 'KEYS', keys)
  rawset(G0, 'ARGV', argv)
  return finish(xpcall(f, err_handler))
end

-- FUNCTION LOAD: while a library's code runs, `redis` is this table.
local known_flags = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
  ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}
local function valid_name(n)
  return type(n) == 'string' and n:match('^[%w_]+$') ~= nil
end
bridge.valid_name = valid_name
local load_redis = {
  log = r.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = r.REDIS_VERSION, REDIS_VERSION_NUM = r.REDIS_VERSION_NUM,
}
load_redis.register_function = function(...)
  local n = select('#', ...)
  local name, cb, flags, desc
  if n == 1 then
    local t = ...
    if type(t) ~= 'table' then
      fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for k, v in pairs(t) do
      if k == 'function_name' then name = v
      elseif k == 'callback' then cb = v
      elseif k == 'flags' then flags = v
      elseif k == 'description' then desc = v
      else fail("unknown argument given to redis.register_function") end
    end
    if name == nil then fail("redis.register_function must get a function name argument") end
    if cb == nil then fail("redis.register_function must get a callback argument") end
  elseif n == 2 then
    name, cb = ...
  else
    fail("wrong number of arguments to redis.register_function")
  end
  if type(name) ~= 'string' then fail("function name argument given to redis.register_function must be a string") end
  if type(cb) ~= 'function' then fail("second argument to redis.register_function must be a function") end
  if desc ~= nil and type(desc) ~= 'string' then fail("description argument given to redis.register_function must be a string") end
  if not valid_name(name) then
    fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  end
  local fl = {}
  if flags ~= nil then
    if type(flags) ~= 'table' then fail("flags argument to redis.register_function must be a table representing function flags") end
    for _, f in ipairs(flags) do
      if type(f) ~= 'string' or not known_flags[f] then fail("unknown flag given") end
      fl[#fl + 1] = f
    end
  end
  local list = bridge.loading
  for _, f in ipairs(list) do
    if f.name == name then fail("Function already exists in the library") end
  end
  list[#list + 1] = {name = name, callback = cb, flags = fl, description = desc}
end
local function nonexistent(k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 3)
end
local load_redis_ro = readonly(setmetatable(load_redis, {__index = function(_, k) nonexistent(k) end}))

-- Runs a library's compiled code with the library environment; returns true and the
-- registered functions, or false and the error table.
bridge.load_library = function(chunk)
  local env = setmetatable({}, {
    __index = function(_, k)
      if k == 'redis' and bridge.loading then return load_redis_ro end
      local v = rawget(G0, k)
      if v == nil then nonexistent(k) end
      return v
    end,
    __newindex = function() error(readonly_msg, 2) end,
    __metatable = false,
  })
  setfenv(chunk, env)
  bridge.loading = {}
  local ok, e = xpcall(chunk, err_handler)
  local list = bridge.loading
  bridge.loading = nil
  if not ok then return false, e end
  return true, list
end

local real_rawset = rawset
_G.rawset = function(t, k, v)
  if protected[t] then error(readonly_msg, 0) end
  return real_rawset(t, k, v)
end

-- Every redis.* function becomes a C closure, so `return redis.call(...)` keeps the
-- script's frame (its line in error replies), as Redis's C functions do.
for k, v in pairs(r) do
  if type(v) == 'function' then r[k] = bridge.passthrough(v) end
end

-- pcall as Redis 7.0 replaces it: an error table with a string `err` becomes that string.
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'table' then
    local m = rawget(e, 'err')
    if type(m) == 'string' or type(m) == 'number' then e = m end
  end
  return false, e
end
_G.pcall = function(f, ...)
  return pcall_result(pcall(f, ...))
end

-- Rust library functions become C closures raising plain string errors (as Redis's C
-- libraries), so pcall sees the message.
local function pack(ok, ...)
  if ok then return true, ... end
  return false, (bridge.errtext(...))
end
local function protect(f)
  return bridge.cwrap(function(...) return pack(pcall(f, ...)) end)
end
for _, lib in ipairs({cjson, bit, struct, cmsgpack}) do
  for k, v in pairs(lib) do
    if type(v) == 'function' then lib[k] = protect(v) end
  end
end
math.random = protect(math.random)
math.randomseed = protect(math.randomseed)

-- Globals: the real ones move to G0; _G stays empty with G0 behind it, so every write
-- is refused and a missing global raises Redis's error.
local G = _G
for k, v in pairs(G) do G0[k] = v end
for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'struct', 'cmsgpack'}) do
  if G0[name] ~= nil then G0[name] = readonly(G0[name]) end
end
G0.redis = readonly(r)
G0.__redis__err__handler = err_handler
setmetatable(G0, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end})
for k in pairs(G0) do real_rawset(G, k, nil) end
setmetatable(G, {
  __index = G0,
  __newindex = function() error(readonly_msg, 2) end,
  __metatable = false,
})
protected[G] = true
bridge.globals = G0

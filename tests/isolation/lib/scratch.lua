-- A scratch directory of a test file's own (loaded with dofile by the tests):
--   local scratch = dofile(src .. "/tests/isolation/lib/scratch.lua")()
--   scratch.dir                  the directory (made now, under TMPDIR)
--   scratch.file(name, text)     writes dir/name -> its path
--   scratch.remove()             removes the directory and everything in it (the file's cleanup)
return function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local S = { dir = dir }
  function S.file(name, text)
    local path = dir .. "/" .. name
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
  end
  function S.remove() return os.execute("rm -rf " .. dir) == 0 end
  return S
end

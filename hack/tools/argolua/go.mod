// Runs an Argo CD resource health script (Lua) the way Argo CD's application controller does,
// with gopher-lua, the interpreter Argo CD embeds.
module chitty.cc/hack/tools/argolua

go 1.26.0

require github.com/yuin/gopher-lua v1.1.2

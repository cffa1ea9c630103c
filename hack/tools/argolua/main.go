// argolua runs an Argo CD resource health check (a Lua script) against each Kubernetes object given
// on stdin and prints Argo CD's verdict, one JSON line per object:
//
//	{"kind":"ChittyService","name":"web","status":"Healthy","message":"..."}
//
// Usage: argolua SCRIPT.lua < objects.json. Stdin holds one object or a List (what `kubectl get -o
// json` prints).
//
// It runs the script as Argo CD 2.x and 3.x run a `resource.customizations.health.<group>_<kind>`
// script: in gopher-lua, with the standard libraries off (Argo CD opens them only when
// `resource.customizations.useOpenLibs` says so) except package, base and table; with one second to
// finish; with the global `obj` holding the object, where JSON arrays become sequences, objects
// become tables, both empty ones the same empty table, and nulls are absent. The script returns a
// table whose `status` Argo CD accepts only as one of its health codes; anything else reads Unknown.
// Around the script it does what gitops-engine's GetResourceHealth does: an object being deleted is
// Progressing, "Pending deletion", without running the script, and a script that fails is Unknown
// with the error as its message.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type verdict struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// The health codes Argo CD accepts from a script.
var healthCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argolua SCRIPT.lua < objects.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "argolua: %v\n", err)
		os.Exit(1)
	}
}

func run(scriptPath string, in io.Reader, out io.Writer) error {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.NewDecoder(in).Decode(&doc); err != nil || doc == nil {
		return errors.New("stdin is not a Kubernetes object or List as JSON")
	}
	objects := []map[string]any{doc}
	if items, isList := doc["items"].([]any); isList {
		objects = objects[:0]
		for i, item := range items {
			object, ok := item.(map[string]any)
			if !ok {
				return fmt.Errorf("items[%d] is not an object", i)
			}
			objects = append(objects, object)
		}
	}
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	for _, object := range objects {
		metadata, _ := object["metadata"].(map[string]any)
		kind, _ := object["kind"].(string)
		name, _ := metadata["name"].(string)
		status, message := "Progressing", "Pending deletion"
		if metadata["deletionTimestamp"] == nil {
			var err error
			if status, message, err = health(string(script), object); err != nil {
				status, message = "Unknown", err.Error()
			}
		}
		if err := encoder.Encode(verdict{Kind: kind, Name: name, Status: status, Message: message}); err != nil {
			return err
		}
	}
	return nil
}

// health runs the script in a fresh interpreter, as Argo CD does for every assessment.
func health(script string, object map[string]any) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	libraries := []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}}
	for _, lib := range libraries {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, object))
	if err := l.DoString(script); err != nil {
		var luaErr *lua.ApiError
		if errors.As(err, &luaErr) {
			return "", "", errors.New(luaErr.Object.String()) // without the multi-line traceback
		}
		return "", "", err
	}
	result, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	status, ok := result.RawGetString("status").(lua.LString)
	if !ok || !healthCodes[string(status)] {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	message := ""
	switch m := result.RawGetString("message").(type) {
	case lua.LString:
		message = string(m)
	case *lua.LNilType:
	default:
		return "", "", fmt.Errorf("message is a %s, not a string", m.Type())
	}
	return string(status), message, nil
}

// toLua turns decoded JSON into Lua values: both empty arrays and empty objects become an empty
// table, so a script tells "no conditions" from "conditions" only by `nil` or `next`.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		table := l.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(l, item))
		}
		return table
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(l, item))
		}
		return table
	default:
		return lua.LNil
	}
}

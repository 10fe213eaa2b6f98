package observe

import (
	"strconv"
	"strings"
)

// appModule is our module path: frames under it are "in app" in Sentry.
const appModule = "github.com/superagent-hq/superagent/"

// maxFrames bounds a reported stack trace.
const maxFrames = 100

// frame is one Sentry stack frame.
type frame struct {
	Function string `json:"function,omitempty"`
	Module   string `json:"module,omitempty"`
	AbsPath  string `json:"abs_path,omitempty"`
	Filename string `json:"filename,omitempty"`
	Lineno   int    `json:"lineno,omitempty"`
	InApp    bool   `json:"in_app"`
}

// parseStack turns the text of runtime/debug.Stack (what net/http's
// recover and River's panic handler give us) into Sentry frames, oldest
// call first as Sentry wants them. Arguments (raw words) are dropped; only
// function names, files and lines are kept.
func parseStack(stack []byte) []frame {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	var frames []frame
	for i := 0; i < len(lines); i++ {
		fn := strings.TrimSpace(lines[i])
		if fn == "" || strings.HasPrefix(fn, "goroutine ") || strings.HasPrefix(lines[i], "\t") {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "\t") {
			continue
		}
		loc := strings.TrimSpace(lines[i+1])
		i++
		if sp := strings.LastIndex(loc, " +0x"); sp >= 0 {
			loc = loc[:sp]
		}
		f := frame{}
		if colon := strings.LastIndex(loc, ":"); colon > 0 {
			f.AbsPath = loc[:colon]
			f.Lineno, _ = strconv.Atoi(loc[colon+1:])
		} else {
			f.AbsPath = loc
		}
		f.Filename = f.AbsPath[strings.LastIndex(f.AbsPath, "/")+1:]
		fn = strings.TrimPrefix(fn, "created by ")
		if in := strings.Index(fn, " in goroutine "); in >= 0 {
			fn = fn[:in]
		}
		if strings.HasSuffix(fn, ")") {
			if open := strings.LastIndex(fn, "("); open > 0 {
				fn = fn[:open]
			}
		}
		f.Module, f.Function = splitFunc(fn)
		f.InApp = strings.HasPrefix(fn, appModule)
		frames = append(frames, f)
	}
	if len(frames) > maxFrames {
		frames = frames[:maxFrames] // keep the innermost calls
	}
	for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
		frames[i], frames[j] = frames[j], frames[i]
	}
	return frames
}

// splitFunc splits "github.com/a/b/pkg.(*T).Method" into its package path
// and "(*T).Method".
func splitFunc(fn string) (module, function string) {
	slash := strings.LastIndex(fn, "/")
	dot := strings.Index(fn[slash+1:], ".")
	if dot < 0 {
		return "", fn
	}
	return fn[:slash+1+dot], fn[slash+1+dot+1:]
}

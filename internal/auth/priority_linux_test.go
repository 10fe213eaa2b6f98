package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// threadNice reads a thread's niceness from its stat file in /proc.
func threadNice(t *testing.T, stat string) int {
	t.Helper()
	b, err := os.ReadFile(stat)
	if err != nil {
		t.Skipf("no /proc/thread-self: %v", err)
	}
	// Fields after the command name (which may hold spaces) start at the
	// state, field 3; niceness is field 19.
	rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.Atoi(rest[19-3])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHelperProcessesRunNicer: every thread of a hash helper runs at the
// lower priority, those argon2 computes on included (it hashes in
// goroutines of its own, which a niced calling thread alone would not
// cover), and the thread that started the helper keeps its own.
func TestHelperProcessesRunNicer(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice(t, "/proc/thread-self/stat")
	h, errs := helperHasher(t, helperCommand(t))
	for range 3 {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
	}
	if len(*errs) > 0 {
		t.Fatalf("the helper failed: %v", *errs)
	}
	pids := h.helpers.pids()
	if len(pids) == 0 {
		t.Fatal("no helper process ran")
	}
	for _, pid := range pids {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) < 2 {
			t.Fatalf("helper %d: threads %v, %v", pid, tasks, err)
		}
		for _, task := range tasks {
			if n := threadNice(t, task); n != hashNice {
				t.Errorf("helper thread %s runs at niceness %d, want %d", task, n, hashNice)
			}
		}
	}
	if after := threadNice(t, "/proc/thread-self/stat"); after != before {
		t.Errorf("the starting thread's niceness went from %d to %d", before, after)
	}
}

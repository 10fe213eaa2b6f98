package auth

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// threadNice reads the calling thread's niceness from /proc.
func threadNice(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/stat")
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

// TestHashesRunOnNicerThreads: a hash runs on a thread of lower priority,
// and the thread that asked for it keeps its own.
func TestHashesRunOnNicerThreads(t *testing.T) {
	got := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		lowerThreadPriority()
		got <- threadNice(t)
	}()
	if n := <-got; n != hashNice {
		t.Errorf("a hashing thread's niceness = %d, want %d", n, hashNice)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice(t)
	h, err := NewHasher(TestParams, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	if after := threadNice(t); after != before {
		t.Errorf("the caller's thread niceness went from %d to %d", before, after)
	}
}

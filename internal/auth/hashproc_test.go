package auth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the hash helper: started with this variable
// set, it serves hash requests instead of running tests.
const helperEnv = "SUPERAGENT_TEST_HASH_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := ServeHashRequests(os.Stdin, os.Stdout); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperCommand(t *testing.T) func() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return func() *exec.Cmd {
		c := exec.Command(exe)
		c.Env = append(os.Environ(), helperEnv+"=1")
		c.Stderr = os.Stderr
		return c
	}
}

// helperHasher hashes in helper processes; errs collects what fell back.
func helperHasher(t *testing.T, start func() *exec.Cmd) (*Hasher, *[]error) {
	t.Helper()
	h, err := NewHasher(TestParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	errs := &[]error{}
	h.UseHelperProcesses(start, func(err error) { mu.Lock(); *errs = append(*errs, err); mu.Unlock() })
	t.Cleanup(h.Close)
	return h, errs
}

// A hash made by a helper verifies in-process and the other way round,
// for any password bytes, and one helper serves hash after hash.
func TestHelperProcessHashesLikeInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, errs := helperHasher(t, helperCommand(t))
	local := newTestHasher(t)
	for _, pw := range []string{"correct horse battery staple", "Pässwörd-🔑", "\xff\xfe not utf-8", strings.Repeat("x", MaxPasswordBytes)} {
		enc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash(%q) in a helper: %v", pw, err)
		}
		if ok, _, err := local.Verify(ctx, pw, enc); !ok || err != nil {
			t.Errorf("in-process Verify of a helper's hash of %q: %v %v", pw, ok, err)
		}
		enc, err = local.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := h.Verify(ctx, pw, enc); !ok || err != nil {
			t.Errorf("helper Verify of an in-process hash of %q: %v %v", pw, ok, err)
		}
		if ok, _, _ := h.Verify(ctx, pw+"!", enc); ok {
			t.Errorf("a helper verified the wrong password for %q", pw)
		}
	}
	if len(*errs) != 0 {
		t.Fatalf("hashes fell back to in-process: %v", *errs)
	}
	if pids := h.HelperPIDs(); len(pids) != 1 {
		t.Errorf("helpers %v, want one reused for every sequential hash", pids)
	}
}

// A helper that dies costs no login: that hash runs in-process (the
// failure reported), and the next one starts a new helper.
func TestHelperProcessFailureFallsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, errs := helperHasher(t, helperCommand(t))
	if _, err := h.Hash(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	pids := h.HelperPIDs()
	if len(pids) != 1 {
		t.Fatalf("helpers %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	enc, err := h.Hash(ctx, "second")
	if err != nil {
		t.Fatalf("Hash after the helper died: %v", err)
	}
	if ok, _, err := newTestHasher(t).Verify(ctx, "second", enc); !ok || err != nil {
		t.Fatalf("the fallback hash does not verify: %v %v", ok, err)
	}
	if len(*errs) != 1 {
		t.Fatalf("reported failures %v, want the dead helper's", *errs)
	}
	if _, err := h.Hash(ctx, "third"); err != nil {
		t.Fatal(err)
	}
	if now := h.HelperPIDs(); len(now) != 1 || now[0] == pids[0] || len(*errs) != 1 {
		t.Errorf("after a failure: helpers %v (was %v), failures %v", now, pids, *errs)
	}

	// A helper that cannot start at all: every hash runs in-process.
	broken, errs := helperHasher(t, func() *exec.Cmd { return exec.Command("/nonexistent/superagent") })
	if enc, err := broken.Hash(ctx, "pw"); err != nil || !strings.HasPrefix(enc, "$argon2id$") {
		t.Fatalf("Hash without a helper: %q %v", enc, err)
	}
	if len(*errs) != 1 || !strings.Contains((*errs)[0].Error(), "start password hash helper") {
		t.Errorf("failures %v", *errs)
	}
}

// Close stops the helpers.
func TestHelperProcessClose(t *testing.T) {
	t.Parallel()
	h, _ := helperHasher(t, helperCommand(t))
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	pids := h.HelperPIDs()
	h.Close()
	if len(h.HelperPIDs()) != 0 {
		t.Errorf("helpers left after Close: %v", h.HelperPIDs())
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("helper %d still exists after Close: %v", pid, err)
		}
	}
}

// The helper checks what it is asked before hashing, and refuses frames
// over its limit.
func TestServeHashRequestsRefusesBadInput(t *testing.T) {
	t.Parallel()
	req := func(iter, mem uint32, par uint8, keyLen uint32, salt []byte, pw string) []byte {
		b := binary.BigEndian.AppendUint32(nil, iter)
		b = binary.BigEndian.AppendUint32(b, mem)
		b = append(b, par)
		b = binary.BigEndian.AppendUint32(b, keyLen)
		b = binary.BigEndian.AppendUint16(b, uint16(len(salt)))
		b = append(b, salt...)
		return append(b, pw...)
	}
	salt := bytes.Repeat([]byte{1}, 16)
	cases := map[string][]byte{
		"memory over the limit": req(1, maxMemoryKiB+1, 1, 32, salt, "pw"),
		"no iterations":         req(0, 64, 1, 32, salt, "pw"),
		"short salt":            req(1, 64, 1, 32, []byte{1}, "pw"),
		"password too long":     req(1, 64, 1, 32, salt, strings.Repeat("x", MaxPasswordBytes+1)),
		"truncated":             req(1, 64, 1, 32, salt, "pw")[:10],
	}
	for name, r := range cases {
		var in, out bytes.Buffer
		_ = writeFrame(&in, r)
		if err := ServeHashRequests(&in, &out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp := out.Bytes()
		if len(resp) < 5 || resp[4] != 1 {
			t.Errorf("%s: answer %q, want a refusal", name, resp)
		}
	}
	var in, out bytes.Buffer
	_ = writeFrame(&in, req(1, 64, 1, 32, salt, "pw"))
	if err := ServeHashRequests(&in, &out); err != nil || out.Len() != 4+1+32 || out.Bytes()[4] != 0 {
		t.Errorf("a good request: %v %q", err, out.Bytes())
	}
	var big bytes.Buffer
	_ = binary.Write(&big, binary.BigEndian, uint32(maxHashRequest+1))
	if err := ServeHashRequests(&big, &out); err == nil {
		t.Error("a frame over the limit was accepted")
	}
}

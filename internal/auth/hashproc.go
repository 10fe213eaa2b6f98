package auth

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Password hashes can run in helper processes: copies of this binary
// started with a hidden command (`superagent hash-helper`) that read hash
// requests on stdin and answer on stdout. An argon2id hash allocates its
// whole memory cost (19 MiB by default) and keeps a core busy for tens of
// milliseconds; in the serving process a login storm made the garbage
// collector run a dozen times a second and took a Go processor from
// request handling, so other requests' p99 tripled. In a helper, the
// allocation never touches the server's heap, and the whole process runs at
// a lower priority (hashNice, see startNicer), so the kernel serves
// requests first.
//
// The protocol is binary and length-prefixed, so any password bytes pass
// unchanged. A request is:
//
//	u32 length of the rest | u32 iterations | u32 memory KiB | u8 parallelism |
//	u32 key length | u16 salt length | salt | password
//
// and an answer is u32 length | u8 status (0 ok, 1 refused) | key or message.
// Numbers are big-endian. The helper checks every value against the
// package's limits before hashing, and exits when stdin closes (so it ends
// with its parent).

// maxHashRequest bounds one request: the fixed fields, the salt and the password.
const maxHashRequest = 4 + 4 + 1 + 4 + 2 + maxSaltLen + MaxPasswordBytes

// ServeHashRequests answers hash requests from r on w until r ends. It is
// the helper process's main loop.
func ServeHashRequests(r io.Reader, w io.Writer) error {
	in := bufio.NewReader(r)
	out := bufio.NewWriter(w)
	for {
		req, err := readFrame(in, maxHashRequest)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		key, err := hashRequest(req)
		status, body := byte(0), key
		if err != nil {
			status, body = 1, []byte(err.Error())
		}
		if err := writeFrame(out, append([]byte{status}, body...)); err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
}

// hashRequest decodes and checks one request and derives its key on a
// thread of lower priority.
func hashRequest(req []byte) ([]byte, error) {
	const fixed = 4 + 4 + 1 + 4 + 2
	if len(req) < fixed {
		return nil, errors.New("short request")
	}
	p := Params{
		Iterations:  binary.BigEndian.Uint32(req[0:]),
		MemoryKiB:   binary.BigEndian.Uint32(req[4:]),
		Parallelism: req[8],
		KeyLen:      binary.BigEndian.Uint32(req[9:]),
	}
	saltLen := int(binary.BigEndian.Uint16(req[13:]))
	if len(req) < fixed+saltLen {
		return nil, errors.New("short salt")
	}
	salt, password := req[fixed:fixed+saltLen], req[fixed+saltLen:]
	p.SaltLen = uint32(saltLen)
	if err := p.Validate(false); err != nil {
		return nil, err
	}
	if len(password) > MaxPasswordBytes {
		return nil, ErrPasswordTooLong
	}
	// The process runs at its lower priority already (startNicer).
	return argon2.IDKey(password, salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen), nil
}

func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > uint32(limit) {
		return nil, fmt.Errorf("frame of %d bytes is over the limit of %d", size, limit)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read frame: %w", io.ErrUnexpectedEOF)
	}
	return b, nil
}

func writeFrame(w io.Writer, b []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// hashHelpers starts helper processes on demand and keeps idle ones for
// the next hash. The Hasher's slots bound how many run at once.
type hashHelpers struct {
	start func() *exec.Cmd
	mu    sync.Mutex
	idle  []*hashHelper
	all   []*hashHelper
}

// hashHelper is one running helper process.
type hashHelper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// derive runs one hash in a helper. An error means the helper could not
// be started or broke (it is then stopped); the caller may hash in-process.
func (hs *hashHelpers) derive(password string, salt []byte, p Params) ([]byte, error) {
	h, err := hs.take()
	if err != nil {
		return nil, err
	}
	req := make([]byte, 0, 15+len(salt)+len(password))
	req = binary.BigEndian.AppendUint32(req, p.Iterations)
	req = binary.BigEndian.AppendUint32(req, p.MemoryKiB)
	req = append(req, p.Parallelism)
	req = binary.BigEndian.AppendUint32(req, p.KeyLen)
	req = binary.BigEndian.AppendUint16(req, uint16(len(salt)))
	req = append(req, salt...)
	req = append(req, password...)
	key, err := h.call(req)
	if err != nil {
		hs.discard(h)
		return nil, err
	}
	hs.put(h)
	return key, nil
}

func (h *hashHelper) call(req []byte) ([]byte, error) {
	if err := writeFrame(h.in, req); err != nil {
		return nil, fmt.Errorf("password hash helper: %w", err)
	}
	resp, err := readFrame(h.out, 1+maxKeyLen+4096)
	if err != nil {
		return nil, fmt.Errorf("password hash helper: %w", err)
	}
	if len(resp) == 0 {
		return nil, errors.New("password hash helper: empty answer")
	}
	if resp[0] != 0 {
		return nil, fmt.Errorf("password hash helper refused the request: %s", resp[1:])
	}
	return resp[1:], nil
}

func (hs *hashHelpers) take() (*hashHelper, error) {
	hs.mu.Lock()
	if n := len(hs.idle); n > 0 {
		h := hs.idle[n-1]
		hs.idle = hs.idle[:n-1]
		hs.mu.Unlock()
		return h, nil
	}
	hs.mu.Unlock()
	cmd := hs.start()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("password hash helper: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("password hash helper: %w", err)
	}
	if err := startNicer(cmd); err != nil {
		return nil, fmt.Errorf("start password hash helper: %w", err)
	}
	h := &hashHelper{cmd: cmd, in: in, out: bufio.NewReader(out)}
	hs.mu.Lock()
	hs.all = append(hs.all, h)
	hs.mu.Unlock()
	return h, nil
}

// startNicer starts cmd from a thread of lower scheduling priority: a new
// process inherits the niceness of the thread that forked it, and so every
// thread of the helper has it. Lowering the priority of the thread that
// calls argon2 alone is not enough: argon2 computes in goroutines of its
// own, which the runtime runs on any of the process's threads.
func startNicer(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // exits locked: the runtime discards the niced thread
		lowerThreadPriority()
		errc <- cmd.Start()
	}()
	return <-errc
}

func (hs *hashHelpers) put(h *hashHelper) {
	hs.mu.Lock()
	hs.idle = append(hs.idle, h)
	hs.mu.Unlock()
}

func (hs *hashHelpers) discard(h *hashHelper) {
	hs.mu.Lock()
	for i, x := range hs.all {
		if x == h {
			hs.all = append(hs.all[:i], hs.all[i+1:]...)
			break
		}
	}
	hs.mu.Unlock()
	h.stop()
}

func (h *hashHelper) stop() {
	_ = h.in.Close()
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Kill()
	}
	_ = h.cmd.Wait()
}

// close stops every helper.
func (hs *hashHelpers) close() {
	hs.mu.Lock()
	all := hs.all
	hs.all, hs.idle = nil, nil
	hs.mu.Unlock()
	for _, h := range all {
		_ = h.in.Close() // the helper exits at end of input
		_ = h.cmd.Wait()
	}
}

// pids lists the running helpers' process ids.
func (hs *hashHelpers) pids() []int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var out []int
	for _, h := range hs.all {
		out = append(out, h.cmd.Process.Pid)
	}
	return out
}

package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters of a password hash.
type Params struct {
	MemoryKiB   uint32 // memory per hash, in KiB
	Iterations  uint32 // passes over the memory
	Parallelism uint8  // lanes (threads)
	SaltLen     uint32 // random salt, in bytes
	KeyLen      uint32 // derived key, in bytes
}

// DefaultParams is the production profile: the OWASP Password Storage Cheat
// Sheet's argon2id recommendation (19 MiB, 2 iterations, 1 lane) with a
// 128-bit salt and a 256-bit key (RFC 9106). Each concurrent hash holds
// MemoryKiB of memory; Hasher caps how many run at once.
var DefaultParams = Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// TestParams is a cheap profile for tests and development seeding. It is
// refused by Validate(true).
var TestParams = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Limits on stored parameters, so that a corrupt or hostile hash string
// cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 64
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 128
)

// MaxPasswordBytes is the longest password accepted, in bytes. Longer input
// is refused, never truncated.
const MaxPasswordBytes = 256

// Validate reports whether p can be used to hash new passwords. Every profile
// must be structurally sound (argon2id needs at least 8 KiB per lane); in
// production each parameter must also be at or above the OWASP floor of
// DefaultParams (m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte key). The error
// names the offending parameter.
func (p Params) Validate(production bool) error {
	switch {
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("argon2id params: iterations %d out of range 1..%d", p.Iterations, maxIterations)
	case p.Parallelism < 1:
		return errors.New("argon2id params: parallelism must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("argon2id params: memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Parallelism), maxMemoryKiB)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id params: salt length %d out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id params: key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	if !production {
		return nil
	}
	floor := DefaultParams
	switch {
	case p.MemoryKiB < floor.MemoryKiB:
		return fmt.Errorf("argon2id params: memory %d KiB is below the production minimum of %d KiB", p.MemoryKiB, floor.MemoryKiB)
	case p.Iterations < floor.Iterations:
		return fmt.Errorf("argon2id params: iterations %d is below the production minimum of %d", p.Iterations, floor.Iterations)
	case p.SaltLen < floor.SaltLen:
		return fmt.Errorf("argon2id params: salt length %d is below the production minimum of %d bytes", p.SaltLen, floor.SaltLen)
	case p.KeyLen < floor.KeyLen:
		return fmt.Errorf("argon2id params: key length %d is below the production minimum of %d bytes", p.KeyLen, floor.KeyLen)
	}
	return nil
}

// below reports whether any parameter of p is lower than the same one of q.
func (p Params) below(q Params) bool {
	return p.MemoryKiB < q.MemoryKiB || p.Iterations < q.Iterations || p.Parallelism < q.Parallelism ||
		p.SaltLen < q.SaltLen || p.KeyLen < q.KeyLen
}

// ErrMalformedHash is returned by Verify for a stored hash that is not an
// argon2id PHC string this package can check.
var ErrMalformedHash = errors.New("malformed password hash")

// Hasher hashes and verifies passwords with argon2id. At most a fixed number
// of hashes run at once, so a login storm queues instead of exhausting
// memory; waiting for a slot respects the caller's context. A Hasher is safe
// for concurrent use.
type Hasher struct {
	params Params
	slots  chan struct{}
	// dummySalt and dummyKey give VerifyDummy a stored hash to lose against.
	dummySalt, dummyKey []byte
	// helpers, when set, run the hashes in helper processes (hashproc.go).
	helpers       *hashHelpers
	onHelperError func(error)
}

// UseHelperProcesses makes the Hasher run hashes in helper processes that
// start builds (a command whose process calls ServeHashRequests), started
// when first needed and kept for the next hash. When a helper cannot be
// started or breaks, that hash runs in-process and onError (if set) hears
// why. Call it before the Hasher is used; Close stops the helpers.
func (h *Hasher) UseHelperProcesses(start func() *exec.Cmd, onError func(error)) {
	h.helpers = &hashHelpers{start: start}
	h.onHelperError = onError
}

// HelperPIDs lists the process ids of the running hash helpers.
func (h *Hasher) HelperPIDs() []int {
	if h.helpers == nil {
		return nil
	}
	return h.helpers.pids()
}

// Close stops the helper processes, if any.
func (h *Hasher) Close() {
	if h.helpers != nil {
		h.helpers.close()
	}
}

// NewHasher returns a Hasher that hashes new passwords with params and runs
// at most concurrency hashes at once. When concurrency <= 0 that is half the
// processors (at least one): an argon2id hash keeps a core busy for tens of
// milliseconds, so a login storm allowed every core would stall every other
// request; with half, logins queue for a slot and the API keeps answering.
// It refuses structurally invalid params; the production floor is checked by
// Params.Validate(true) where the configuration is loaded.
func NewHasher(params Params, concurrency int) (*Hasher, error) {
	if err := params.Validate(false); err != nil {
		return nil, fmt.Errorf("new password hasher: %w", err)
	}
	if concurrency <= 0 {
		concurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return &Hasher{
		params:    params,
		slots:     make(chan struct{}, concurrency),
		dummySalt: randomBytes(params.SaltLen),
		dummyKey:  randomBytes(params.KeyLen),
	}, nil
}

// Params returns the parameters used for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of password, e.g.
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded standard base64).
// It fails when ctx ends before a slot is free, and with ErrPasswordTooLong
// when the password is longer than MaxPasswordBytes.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("hash password: %w", ErrPasswordTooLong)
	}
	salt := randomBytes(h.params.SaltLen)
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return encodeHash(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded. needsRehash
// is true on a match whose stored parameters are below the Hasher's current
// ones: the caller should then store a fresh Hash. A malformed encoded string
// is an error wrapping ErrMalformedHash; a cancelled ctx is an error too. A
// mismatch is (false, false, nil).
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	if len(password) > MaxPasswordBytes {
		// No stored hash is of a password this long (Hash refuses them):
		// a mismatch, after the same work as any other.
		if err := h.VerifyDummy(ctx, password); err != nil {
			return false, false, err
		}
		return false, false, nil
	}
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p.below(h.params), nil
}

// VerifyDummy does the work of a Verify at the current parameters and throws
// the result away. Call it when the user is unknown, so that the response
// time does not tell which accounts exist. It fails only when ctx ends.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	password = password[:min(len(password), MaxPasswordBytes)] // the result is thrown away
	got, err := h.derive(ctx, password, h.dummySalt, h.params)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	subtle.ConstantTimeCompare(got, h.dummyKey)
	return nil
}

// derive runs argon2id once a slot is free.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("wait for a hashing slot: %w", err)
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	if h.helpers != nil {
		key, err := h.helpers.derive(password, salt, p)
		if err == nil {
			return key, nil
		}
		if h.onHelperError != nil {
			h.onHelperError(err)
		}
	}
	// In-process the hash runs at the server's own priority: argon2
	// computes in goroutines of its own, on whichever of the process's
	// threads the runtime picks, so no thread's priority can follow it.
	// Helper processes run at a lower one as a whole (startNicer).
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen), nil
}

var b64 = base64.RawStdEncoding

func encodeHash(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodeHash parses "$argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>" and
// checks every value against the package limits.
func decodeHash(encoded string) (p Params, salt, key []byte, err error) {
	malformed := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return malformed("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return malformed("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return malformed("unsupported argon2 version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return malformed("want parameters m, t, p")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return malformed("want parameters m, t, p")
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return malformed("parameter " + name + " is not a number in range")
		}
		vals[i] = n
	}
	if salt, err = b64.Strict().DecodeString(parts[4]); err != nil {
		return malformed("salt is not base64")
	}
	if key, err = b64.Strict().DecodeString(parts[5]); err != nil {
		return malformed("hash is not base64")
	}
	p = Params{
		MemoryKiB:   uint32(vals[0]),
		Iterations:  uint32(vals[1]),
		Parallelism: uint8(vals[2]),
		SaltLen:     uint32(len(salt)),
		KeyLen:      uint32(len(key)),
	}
	if err := p.Validate(false); err != nil {
		return malformed(err.Error())
	}
	return p, salt, key, nil
}

// randomBytes returns n bytes from crypto/rand, which never fails (it
// crashes the program instead) since Go 1.24.
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

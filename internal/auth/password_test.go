package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestHasher(t *testing.T) *Hasher {
	t.Helper()
	h, err := NewHasher(TestParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newTestHasher(t)
	for _, pw := range []string{"correct horse battery staple", "Pässwörd-ünïcode-🔑", strings.Repeat("x", MaxPasswordBytes)} {
		enc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("Hash = %q, want PHC argon2id string with the hasher's params", enc)
		}
		ok, rehash, err := h.Verify(ctx, pw, enc)
		if err != nil || !ok || rehash {
			t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
		ok, _, err = h.Verify(ctx, pw+"!", enc)
		if err != nil || ok {
			t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
		}
	}
}

func TestHashIsSalted(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t)
	a, _ := h.Hash(context.Background(), "same password")
	b, _ := h.Hash(context.Background(), "same password")
	if a == b {
		t.Fatalf("two hashes of one password are equal (%q): salt is not random", a)
	}
}

func TestHashRefusesOverlongPassword(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t)
	if _, err := h.Hash(context.Background(), strings.Repeat("x", MaxPasswordBytes+1)); !errors.Is(err, ErrPasswordTooLong) {
		t.Fatalf("Hash(MaxPasswordBytes+1 bytes) = %v, want ErrPasswordTooLong", err)
	}
}

func TestVerifyKnownVector(t *testing.T) {
	t.Parallel()
	// Produced by the reference implementation's CLI (phc-winner-argon2, Debian
	// package argon2), e.g.
	//   echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32 -e
	h, err := NewHasher(DefaultParams, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, password, encoded string
		wantRehash              bool
	}{
		{"64 MiB, 8-byte salt", "password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", true},
		{"DefaultParams", "correct horse battery staple", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ISO7kkvFzh19GM8qB7patN3C3Y9HHsjlVTfEZ9T600Y", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Verify(context.Background(), tt.password, tt.encoded)
			if err != nil || !ok || rehash != tt.wantRehash {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.wantRehash)
			}
			if ok, _, _ := h.Verify(context.Background(), tt.password+"x", tt.encoded); ok {
				t.Fatal("Verify accepted a wrong password")
			}
		})
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newTestHasher(t)
	enc, err := old.Hash(ctx, "a fine passphrase")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params Params
		want   bool
	}{
		{"same params", TestParams, false},
		{"more memory", Params{MemoryKiB: 128, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more iterations", Params{MemoryKiB: 64, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}, true},
		{"longer key", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 64}, true},
		{"less memory", Params{MemoryKiB: 32, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewHasher(tt.params, 1)
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := h.Verify(ctx, "a fine passphrase", enc)
			if err != nil || !ok {
				t.Fatalf("Verify = %v, %v; want a match", ok, err)
			}
			if rehash != tt.want {
				t.Errorf("needsRehash = %v, want %v", rehash, tt.want)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t)
	good, err := h.Hash(context.Background(), "a fine passphrase")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tests := map[string]string{
		"empty":               "",
		"garbage":             "not a hash",
		"bcrypt":              "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":             "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"version 16":          "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"missing field":       "$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"extra field":         good + "$x",
		"params out of order": "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"zero iterations":     "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"zero parallelism":    "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"p overflows":         "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,
		"memory too small":    "$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + key,
		"huge memory":         "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,
		"huge iterations":     "$argon2id$v=19$m=64,t=4000000000,p=1$" + salt + "$" + key,
		"negative memory":     "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,
		"bad salt base64":     "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key,
		"padded base64":       "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"empty hash":          "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"short salt":          "$argon2id$v=19$m=64,t=1,p=1$YWJj$" + key,
	}
	for name, enc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ok, _, err := h.Verify(context.Background(), "a fine passphrase", enc)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", enc, ok, err)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		p          Params
		production bool
		wantErr    string // substring; "" means valid
	}{
		{"default in production", DefaultParams, true, ""},
		{"stronger in production", Params{MemoryKiB: 65536, Iterations: 3, Parallelism: 4, SaltLen: 16, KeyLen: 32}, true, ""},
		{"test params in development", TestParams, false, ""},
		{"test params in production", TestParams, true, "memory 64 KiB is below the production minimum"},
		{"one iteration in production", Params{MemoryKiB: 47104, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, true, "iterations 1 is below"},
		{"short salt in production", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 8, KeyLen: 32}, true, "salt length 8 is below"},
		{"short key in production", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 16}, true, "key length 16 is below"},
		{"zero iterations", Params{MemoryKiB: 64, Iterations: 0, Parallelism: 1, SaltLen: 16, KeyLen: 32}, false, "iterations"},
		{"zero parallelism", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 0, SaltLen: 16, KeyLen: 32}, false, "parallelism"},
		{"memory below 8 KiB per lane", Params{MemoryKiB: 16, Iterations: 1, Parallelism: 4, SaltLen: 16, KeyLen: 32}, false, "memory"},
		{"tiny salt", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 4, KeyLen: 32}, false, "salt length"},
		{"zero key", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 0}, false, "key length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate(tt.production)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewHasherRefusesInvalidParams(t *testing.T) {
	t.Parallel()
	if _, err := NewHasher(Params{}, 1); err == nil {
		t.Fatal("NewHasher(zero Params) succeeded")
	}
}

func TestVerifyDummyDoesTheWork(t *testing.T) {
	t.Parallel()
	// The dummy must hold a slot like a real verify: with the only slot
	// taken, it waits and gives up when its context ends.
	h, err := NewHasher(TestParams, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyDummy(context.Background(), "whatever"); err != nil {
		t.Fatalf("VerifyDummy: %v", err)
	}
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.VerifyDummy(ctx, "whatever"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyDummy with no free slot = %v, want deadline exceeded", err)
	}
}

func TestHasherConcurrencyCap(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(TestParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash(context.Background(), "a fine passphrase")
	if err != nil {
		t.Fatal(err)
	}
	// Fill both slots: every call must now wait, and a cancelled wait
	// returns the context's error without hashing.
	h.slots <- struct{}{}
	h.slots <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			_, _, err := h.Verify(ctx, "a fine passphrase", enc)
			errs <- err
		})
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Verify while all slots are busy = %v, want context.Canceled", err)
		}
	}
	// Free one slot: work proceeds again.
	<-h.slots
	ok, _, err := h.Verify(context.Background(), "a fine passphrase", enc)
	if err != nil || !ok {
		t.Errorf("Verify after a slot was freed = %v, %v; want true, nil", ok, err)
	}
	<-h.slots
}

func TestHashCancelledContext(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "a fine passphrase"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func BenchmarkHashDefaultParams(b *testing.B) {
	h, err := NewHasher(DefaultParams, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefaultParams(b *testing.B) {
	h, err := NewHasher(DefaultParams, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", enc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

package secretbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func testKey(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, KeySize))
}

func mustKeyring(t *testing.T, config string) *Keyring {
	t.Helper()
	kr, err := ParseKeyring(config)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, "k1:"+testKey(1))
	aad := []byte("org_1/provider_credentials/prv_1")
	for _, pt := range [][]byte{[]byte("sk-live-secret"), {}, bytes.Repeat([]byte{0xff}, 10000)} {
		ct, err := kr.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ct, "v1:k1:") {
			t.Errorf("ciphertext %q: want prefix v1:k1:", ct)
		}
		if len(pt) > 4 && strings.Contains(ct, string(pt)) {
			t.Error("ciphertext contains the plaintext")
		}
		got, err := kr.Open(ct, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, %v; want %q", got, err, pt)
		}
	}
	a, _ := kr.Seal([]byte("same"), aad)
	b, _ := kr.Seal([]byte("same"), aad)
	if a == b {
		t.Error("two seals of the same plaintext are equal: nonce is not random")
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	aad := []byte("org_1/totp")
	old := mustKeyring(t, "k1:"+testKey(1))
	ct1, err := old.Seal([]byte("old secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	// Deploy a new primary, keep the old key for reading.
	kr := mustKeyring(t, "k2:"+testKey(2)+", k1:"+testKey(1))
	if kr.PrimaryID() != "k2" || fmt.Sprint(kr.KeyIDs()) != "[k2 k1]" {
		t.Fatalf("primary %q, ids %v; want k2, [k2 k1]", kr.PrimaryID(), kr.KeyIDs())
	}
	got, err := kr.Open(ct1, aad)
	if err != nil || string(got) != "old secret" {
		t.Fatalf("old ciphertext after rotation: %q, %v", got, err)
	}
	if !kr.NeedsRotation(ct1) {
		t.Error("NeedsRotation(sealed under k1) = false with primary k2")
	}
	ct2, err := kr.Seal(got, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct2, "v1:k2:") || kr.NeedsRotation(ct2) {
		t.Errorf("re-sealed %q: want key k2 and no rotation needed", ct2)
	}
	if kr.NeedsRotation("garbage") {
		t.Error("NeedsRotation(garbage) = true")
	}
	// Once k1 is retired, its ciphertexts are unknown, not "tampered".
	retired := mustKeyring(t, "k2:"+testKey(2))
	if _, err := retired.Open(ct1, aad); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open under a retired key = %v, want ErrUnknownKey", err)
	}
	if got, err := retired.Open(ct2, aad); err != nil || string(got) != "old secret" {
		t.Errorf("Open re-sealed = %q, %v", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, "k1:"+testKey(1))
	aad := []byte("org_1/row_1")
	ct, err := kr.Seal([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	body := ct[len("v1:k1:"):]
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	flip := func(i int) string {
		r := bytes.Clone(raw)
		r[i] ^= 1
		return "v1:k1:" + base64.RawURLEncoding.EncodeToString(r)
	}
	otherKey := mustKeyring(t, "k1:"+testKey(9))
	otherCT, _ := otherKey.Seal([]byte("secret"), aad)

	tests := []struct {
		name string
		ct   string
		aad  []byte
		want error
	}{
		{"wrong aad (another row)", ct, []byte("org_1/row_2"), ErrAuthentication},
		{"wrong aad (another org)", ct, []byte("org_2/row_1"), ErrAuthentication},
		{"no aad", ct, nil, ErrAuthentication},
		{"flipped nonce bit", flip(0), aad, ErrAuthentication},
		{"flipped ciphertext bit", flip(12), aad, ErrAuthentication},
		{"flipped tag bit", flip(len(raw) - 1), aad, ErrAuthentication},
		{"truncated", "v1:k1:" + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), aad, ErrAuthentication},
		{"same id, different key", otherCT, aad, ErrAuthentication},
		{"unknown key id", "v1:k9:" + body, aad, ErrUnknownKey},
		{"key id swapped in header", "v1:k2:" + body, aad, ErrUnknownKey},
		{"other version", "v2:k1:" + body, aad, ErrMalformed},
		{"no version", "k1:" + body, aad, ErrMalformed},
		{"empty", "", aad, ErrMalformed},
		{"plaintext", "secret", aad, ErrMalformed},
		{"empty body", "v1:k1:", aad, ErrMalformed},
		{"body not base64url", "v1:k1:" + body + "!", aad, ErrMalformed},
		{"body shorter than nonce and tag", "v1:k1:" + base64.RawURLEncoding.EncodeToString(raw[:20]), aad, ErrMalformed},
		{"bad key id", "v1:k 1:" + body, aad, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := kr.Open(tt.ct, tt.aad)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("Open = %q, %v; want nil, %v", got, err, tt.want)
			}
		})
	}
}

func TestHeaderIsAuthenticated(t *testing.T) {
	t.Parallel()
	// Two ids for the same key: relabelling a ciphertext must still fail,
	// because the key id is part of the authenticated data.
	kr := mustKeyring(t, "a:"+testKey(1)+",b:"+testKey(1))
	ct, _ := kr.Seal([]byte("secret"), nil)
	relabelled := "v1:b:" + strings.TrimPrefix(ct, "v1:a:")
	if _, err := kr.Open(relabelled, nil); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("Open(relabelled) = %v, want ErrAuthentication", err)
	}
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xfb}, KeySize) // encodes with + and / (std) or - and _ (url)
	std := base64.StdEncoding.EncodeToString(key)
	tests := []struct {
		name    string
		config  string
		wantErr string // substring; "" means valid
	}{
		{"one key", "k1:" + std, ""},
		{"std without padding", "k1:" + base64.RawStdEncoding.EncodeToString(key), ""},
		{"url-safe", "k1:" + base64.URLEncoding.EncodeToString(key), ""},
		{"url-safe without padding", "k1:" + base64.RawURLEncoding.EncodeToString(key), ""},
		{"spaces around entries", " k2:" + testKey(2) + " , k1:" + std + " ", ""},
		{"id with dash and underscore", "2026-01_a:" + std, ""},
		{"empty", "", "no keys"},
		{"blank", "   ", "no keys"},
		{"no colon", std, "entry 1: want id:base64-key"},
		{"empty entry", "k1:" + std + ",", "entry 2"},
		{"empty id", ":" + std, "key id \"\""},
		{"id with space", "k 1:" + std, "key id \"k 1\""},
		{"id too long", strings.Repeat("k", 33) + ":" + std, "key id"},
		{"bad base64", "k1:not*base64", "key \"k1\": not valid base64"},
		{"short key", "k1:" + base64.StdEncoding.EncodeToString(key[:16]), "want 32 bytes, got 16"},
		{"long key", "k1:" + base64.StdEncoding.EncodeToString(append(key, 1)), "want 32 bytes, got 33"},
		{"duplicate id", "k1:" + std + ",k1:" + testKey(2), "duplicate key id \"k1\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr, err := ParseKeyring(tt.config)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKeyring = %v", err)
				}
				ct, err := kr.Seal([]byte("x"), nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := kr.Open(ct, nil); err != nil {
					t.Fatalf("round trip: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseKeyring = %v, want error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), std) {
				t.Errorf("error %q reveals the key", err)
			}
		})
	}
}

func TestSameKeyAnyEncoding(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xfb}, KeySize)
	a := mustKeyring(t, "k1:"+base64.StdEncoding.EncodeToString(key))
	b := mustKeyring(t, "k1:"+base64.RawURLEncoding.EncodeToString(key))
	ct, _ := a.Seal([]byte("secret"), nil)
	if got, err := b.Open(ct, nil); err != nil || string(got) != "secret" {
		t.Fatalf("std and url-safe encodings of one key disagree: %q, %v", got, err)
	}
}

func TestDevKeyring(t *testing.T) {
	t.Parallel()
	secret := []byte("development-secret-key")
	a, err := DevKeyring(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DevKeyring(secret)
	other, _ := DevKeyring([]byte("another-development-secret"))
	ct, err := a.Seal([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, "v1:dev:") {
		t.Errorf("dev ciphertext %q: want key id dev", ct)
	}
	if got, err := b.Open(ct, []byte("aad")); err != nil || string(got) != "secret" {
		t.Errorf("same secret after restart: Open = %q, %v", got, err)
	}
	if _, err := other.Open(ct, []byte("aad")); !errors.Is(err, ErrAuthentication) {
		t.Errorf("other secret: Open = %v, want ErrAuthentication", err)
	}
	if _, err := DevKeyring([]byte("short")); err == nil {
		t.Error("DevKeyring accepted a 5-byte secret")
	}
}

func TestKeyringDoesNotPrintKeys(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0x42}, KeySize) // "BBBB…"
	kr := mustKeyring(t, "k1:"+base64.StdEncoding.EncodeToString(raw))
	for _, s := range []string{fmt.Sprint(kr), fmt.Sprintf("%v %+v %#v %s", kr, kr, kr, kr)} {
		if strings.Contains(s, "BBBB") || strings.Contains(s, "QkJC") || !strings.Contains(s, "k1") {
			t.Errorf("printed keyring %q: want ids only", s)
		}
	}
}

func TestZeroKeyring(t *testing.T) {
	t.Parallel()
	var kr Keyring
	if _, err := kr.Seal([]byte("x"), nil); err == nil {
		t.Error("zero Keyring sealed")
	}
	if _, err := kr.Open("v1:k1:AAAA", nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("zero Keyring Open = %v, want ErrUnknownKey", err)
	}
}

package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustGuard(t *testing.T, allowlist ...string) *Guard {
	t.Helper()
	g, err := New(allowlist)
	if err != nil {
		t.Fatalf("New(%q): %v", allowlist, err)
	}
	t.Cleanup(g.CloseIdleConnections)
	return g
}

func TestBlockedRange(t *testing.T) {
	t.Parallel()
	g := mustGuard(t)
	tests := []struct {
		addr string
		want string // range name; "" means allowed
	}{
		// IPv4.
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.1", "shared (carrier-grade NAT)"},
		{"100.127.255.255", "shared (carrier-grade NAT)"},
		{"100.128.0.1", ""},
		{"100.63.255.255", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.15.255.255", ""},
		{"172.32.0.1", ""},
		{"192.0.0.170", "IETF protocol assignment"},
		{"192.0.2.10", "documentation"},
		{"192.88.99.1", "6to4 relay"},
		{"192.168.1.1", "private"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.20.0.1", ""},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.254", "reserved"},
		{"255.255.255.255", "broadcast"},
		{"1.1.1.1", ""},
		{"8.8.8.8", ""},
		{"93.184.215.14", ""},
		// IPv6.
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:7f00:1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::ffff:8.8.8.8", ""},
		{"::127.0.0.1", "IPv4-compatible"},
		{"::8.8.8.8", "IPv4-compatible"},
		{"64:ff9b::7f00:1", "NAT64 loopback"},
		{"64:ff9b::10.1.2.3", "NAT64 private"},
		{"64:ff9b::169.254.169.254", "NAT64 link-local"},
		{"64:ff9b::8.8.8.8", ""},
		{"64:ff9b:1::a00:1", "local-use NAT64"},
		{"100::1", "discard-only"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "IETF protocol assignment"}, // Teredo
		{"2001:2::1", "IETF protocol assignment"},                            // benchmarking
		{"2001:db8::1", "documentation"},
		{"2002:7f00:1::1", "6to4"},
		{"2002:808:808::1", "6to4"},
		{"3fff::1", "documentation"},
		{"5f00::1", "segment routing"},
		{"fc00::1", "private (unique local)"},
		{"fd12:3456:789a::1", "private (unique local)"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"ff05::1:3", "multicast"},
		{"::ffff:0:7f00:1", "reserved"}, // SIIT-translated, outside global unicast
		{"4000::1", "reserved"},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:82a::200e", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			name, blocked := g.blockedRange(netip.MustParseAddr(tt.addr))
			if blocked != (tt.want != "") || name != tt.want {
				t.Errorf("blockedRange(%s) = %q, %v; want %q, %v", tt.addr, name, blocked, tt.want, tt.want != "")
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	g := mustGuard(t, "10.1.0.0/16", "192.168.5.5:8443", "internal.example", "*.corp.example:443", "localhost:9999", "[fd00::7]:80")
	tests := []struct {
		url  string
		want string // substring of the refusal reason; "" means accepted
	}{
		{"http://example.com/", ""},
		{"https://example.com:8443/path?q=1#frag", ""},
		{"HTTP://EXAMPLE.COM/", ""},
		{"http://8.8.8.8/", ""},
		{"http://[2606:4700:4700::1111]/", ""},
		{"http://[64:ff9b::808:808]/", ""},
		{"http://internal.example/", ""}, // names are checked when connecting
		// Scheme, host, userinfo, length.
		{"ftp://example.com/", "only http and https"},
		{"file:///etc/passwd", "only http and https"},
		{"gopher://example.com/", "only http and https"},
		{"javascript:alert(1)", "only http and https"},
		{"//example.com/", "only http and https"},
		{"example.com", "only http and https"},
		{"http:example.com", "no host"},
		{"http:///path", "no host"},
		{"http://:80/", "no host"},
		{"http://user:pass@example.com/", "user name or password"},
		{"http://user@example.com/", "user name or password"},
		{"http://example.com@127.0.0.1/", "user name or password"},
		{"http://example.com:0/", "port is not valid"},
		{"http://example.com:99999/", "port is not valid"},
		{"http://exa mple.com/", "not valid"},
		{"http://example.com/" + strings.Repeat("a", MaxURLLength), "longer than 2048"},
		// IPv4 literals.
		{"http://127.0.0.1/", "loopback"},
		{"http://127.0.0.1.:8080/", "loopback"},
		{"http://127.1.2.3/", "loopback"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://10.0.0.1/", "private"},
		{"http://172.16.3.4/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://100.64.0.1/", "carrier-grade NAT"},
		{"http://224.0.0.1/", "multicast"},
		{"http://255.255.255.255/", "broadcast"},
		{"http://240.0.0.1/", "reserved"},
		{"http://198.18.0.1/", "benchmarking"},
		// Non-standard IPv4 notations (2130706433 = 0x7f000001 = 127.0.0.1).
		{"http://2130706433/", "dotted decimal"},
		{"http://0x7f000001/", "dotted decimal"},
		{"http://0x7f.1/", "dotted decimal"},
		{"http://0177.0.0.1/", "dotted decimal"},
		{"http://017700000001/", "dotted decimal"},
		{"http://127.1/", "dotted decimal"},
		{"http://127.0.1/", "dotted decimal"},
		{"http://127.000.000.001/", "dotted decimal"},
		{"http://0/", "dotted decimal"},
		{"http://134744072/", "dotted decimal"}, // 8.8.8.8: refused too, for clarity
		// IPv6 literals.
		{"http://[::1]/", "loopback"},
		{"http://[::1]:8080/", "loopback"},
		{"http://[::]/", "unspecified"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[::ffff:7f00:1]/", "loopback"},
		{"http://[::ffff:169.254.169.254]/", "link-local"},
		{"http://[::127.0.0.1]/", "IPv4-compatible"},
		{"http://[64:ff9b::7f00:1]/", "NAT64 loopback"},
		{"http://[64:ff9b::a9fe:a9fe]/", "NAT64 link-local"},
		{"http://[2002:7f00:1::]/", "6to4"},
		{"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "IETF protocol assignment"},
		{"http://[fc00::1]/", "private"},
		{"http://[fd00::1]/", "private"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://[ff02::1]/", "multicast"},
		// localhost names.
		{"http://localhost/", "localhost is not allowed"},
		{"http://LOCALHOST./", "localhost is not allowed"},
		{"http://app.localhost:3000/", "localhost is not allowed"},
		// The allowlist opens addresses, prefixes, names and ports.
		{"http://10.1.2.3/", ""},
		{"http://10.2.0.1/", "private"},
		{"https://192.168.5.5:8443/", ""},
		{"https://192.168.5.5/", "private"},
		{"http://[::ffff:10.1.9.9]/", ""},
		{"http://[fd00::7]/", ""},
		{"http://[fd00::7]:81/", "private"},
		{"http://localhost:9999/", ""},
		{"http://localhost:9998/", "localhost is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(tt.url)
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			var blocked *BlockedError
			if !errors.As(err, &blocked) {
				t.Fatalf("CheckURL(%q) = %v, want *BlockedError", tt.url, err)
			}
			if !strings.Contains(blocked.Reason, tt.want) {
				t.Errorf("CheckURL(%q) reason %q, want it to contain %q", tt.url, blocked.Reason, tt.want)
			}
		})
	}
}

func TestNewRejectsBadEntries(t *testing.T) {
	t.Parallel()
	for _, entry := range []string{
		"", "  ", "*", "*.", "10.0.0.0/33", "10.0.0.1/8x", "example.com:0", "example.com:70000",
		"exa mple.com", "foo.*.example", "http://example.com", "2130706433", "0x7f.1", "[::1]:0",
	} {
		t.Run(entry, func(t *testing.T) {
			t.Parallel()
			if g, err := New([]string{"example.org", entry}); err == nil {
				t.Errorf("New accepted %q: %+v", entry, g)
			} else if !strings.Contains(err.Error(), "allowlist entry") {
				t.Errorf("error %q does not name the entry", err)
			}
		})
	}
}

func TestHostAllowed(t *testing.T) {
	t.Parallel()
	g := mustGuard(t, "api.internal.example", "*.corp.example", "db.example:5432")
	tests := []struct {
		host string
		port uint16
		want bool
	}{
		{"api.internal.example", 80, true},
		{"API.Internal.Example.", 443, true},
		{"x.api.internal.example", 80, false},
		{"internal.example", 80, false},
		{"a.corp.example", 80, true},
		{"a.b.corp.example", 8080, true},
		{"corp.example", 80, false},
		{"evilcorp.example", 80, false},
		{"corp.example.evil.com", 80, false},
		{"db.example", 5432, true},
		{"db.example", 5433, false},
	}
	for _, tt := range tests {
		if got := g.hostAllowed(tt.host, tt.port); got != tt.want {
			t.Errorf("hostAllowed(%q, %d) = %v, want %v", tt.host, tt.port, got, tt.want)
		}
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *BlockedError
		want string
	}{
		{&BlockedError{Host: "metadata.internal", Reason: "it resolves to a private, loopback or other internal address",
			Addr: netip.MustParseAddr("169.254.169.254"), Range: "link-local"},
			`request to "metadata.internal" blocked: it resolves to a private, loopback or other internal address`},
		{&BlockedError{Reason: "the URL is not valid"}, "request blocked: the URL is not valid"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

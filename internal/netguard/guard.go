// Package netguard keeps requests that workflows make to user-supplied URLs
// (the http agent, the LLM http_request tool) away from internal services:
// loopback, private networks, cloud metadata endpoints and other
// special-purpose addresses.
//
// The authoritative check runs when a connection is made, on the address the
// name resolved to (net.Dialer.ControlContext), so names that resolve to
// internal addresses and DNS rebinding are caught. CheckURL is a cheaper,
// static check for early feedback; it does not resolve names.
//
// Self-hosters can open specific destinations with an allowlist of host
// names, "*.suffix" wildcards, IP addresses and CIDR prefixes, optionally
// with a port.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits applied to every request.
const (
	// MaxURLLength is the longest URL accepted, in bytes.
	MaxURLLength = 2048
	// MaxRedirects is the number of redirects a Client follows.
	MaxRedirects = 5
)

// BlockedError reports a request the guard refused. Its message names the
// host as the user wrote it and says why in general terms; it never includes
// the address a name resolved to.
type BlockedError struct {
	// Host is the host of the refused URL or connection, without port.
	Host string
	// Reason is a short explanation that is safe to show to users.
	Reason string
	// Addr is the refused IP address, and Range the name of the special-
	// purpose range it belongs to ("loopback", "private", …), when the
	// refusal was about an address. Both are for logs: Error omits them
	// for resolved names, since they describe our network.
	Addr  netip.Addr
	Range string
}

func (e *BlockedError) Error() string {
	if e.Host == "" {
		return "request blocked: " + e.Reason
	}
	return fmt.Sprintf("request to %q blocked: %s", e.Host, e.Reason)
}

// hostRule allows a host name, or with wildcard every name below suffix.
type hostRule struct {
	name     string // lower case, no trailing dot; the suffix without "*." when wildcard
	wildcard bool
	port     uint16 // 0 allows every port
}

type prefixRule struct {
	prefix netip.Prefix
	port   uint16 // 0 allows every port
}

// Guard decides which destinations requests may reach. Create it with New;
// it is immutable afterwards and safe for concurrent use. Clients it returns
// share one connection pool; CloseIdleConnections releases it.
type Guard struct {
	hosts     []hostRule
	prefixes  []prefixRule
	blocked   []namedPrefix
	transport *http.Transport
}

// New returns a Guard that refuses special-purpose addresses except those
// the allowlist opens. Each allowlist entry is one of
//
//	api.internal.example      a host name (matched case-insensitively)
//	*.corp.example            every name below corp.example, not corp.example itself
//	10.1.2.3, fd00::5         an IP address
//	10.1.0.0/16, fd00::/8     a CIDR prefix
//
// and host names and IP addresses may carry a port ("127.0.0.1:8080",
// "[::1]:8080", "*.corp.example:443"), which then restricts the entry to that
// port. An allowlisted host name may resolve to any address; an allowlisted
// address or prefix is allowed whatever name led to it. New returns an error
// naming the first invalid entry.
func New(allowlist []string) (*Guard, error) {
	g := &Guard{blocked: blockedRanges()}
	for _, entry := range allowlist {
		if err := g.addAllowEntry(strings.TrimSpace(entry)); err != nil {
			return nil, fmt.Errorf("netguard: allowlist entry %q: %w", entry, err)
		}
	}
	g.transport = &http.Transport{
		Proxy:                  nil, // a proxy from the environment would bypass the dial check
		DialContext:            g.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	return g, nil
}

func (g *Guard) addAllowEntry(entry string) error {
	if entry == "" {
		return errors.New("empty entry")
	}
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return fmt.Errorf("not a CIDR prefix: %w", err)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return errors.New("IPv4-mapped prefix shorter than /96")
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		g.prefixes = append(g.prefixes, prefixRule{prefix: p.Masked()})
		return nil
	}
	if ap, err := netip.ParseAddrPort(entry); err == nil {
		if ap.Port() == 0 {
			return errors.New("port 0")
		}
		addr := ap.Addr().WithZone("").Unmap()
		g.prefixes = append(g.prefixes, prefixRule{prefix: netip.PrefixFrom(addr, addr.BitLen()), port: ap.Port()})
		return nil
	}
	if a, err := netip.ParseAddr(entry); err == nil {
		addr := a.WithZone("").Unmap()
		g.prefixes = append(g.prefixes, prefixRule{prefix: netip.PrefixFrom(addr, addr.BitLen())})
		return nil
	}

	host, port := entry, uint16(0)
	if h, p, err := net.SplitHostPort(entry); err == nil {
		n, err := parsePort(p)
		if err != nil {
			return err
		}
		host, port = h, n
	}
	host = normalizeHost(host)
	rule := hostRule{name: host, port: port}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		rule.name, rule.wildcard = rest, true
	}
	if !validHostName(rule.name) {
		return errors.New("not a host name, *.suffix, IP address or CIDR prefix")
	}
	if looksLikeIPv4(rule.name) {
		return errors.New("write IPv4 addresses in dotted decimal form")
	}
	g.hosts = append(g.hosts, rule)
	return nil
}

// hostAllowed reports whether an allowlist host entry opens host on port.
func (g *Guard) hostAllowed(host string, port uint16) bool {
	host = normalizeHost(host)
	for _, r := range g.hosts {
		if r.port != 0 && r.port != port {
			continue
		}
		if r.wildcard && strings.HasSuffix(host, "."+r.name) || !r.wildcard && host == r.name {
			return true
		}
	}
	return false
}

// addrAllowed reports whether an allowlist address or prefix entry opens
// addr on port.
func (g *Guard) addrAllowed(addr netip.Addr, port uint16) bool {
	addr = addr.WithZone("").Unmap()
	for _, r := range g.prefixes {
		if (r.port == 0 || r.port == port) && r.prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// checkAddr returns a *BlockedError if a connection to addr:port, made for
// host, must be refused. literal says the user wrote the address itself, so
// the message may name its range.
func (g *Guard) checkAddr(host string, addr netip.Addr, port uint16, literal bool) error {
	if g.addrAllowed(addr, port) {
		return nil
	}
	name, blocked := g.blockedRange(addr)
	if !blocked {
		return nil
	}
	reason := "it resolves to a private, loopback or other internal address"
	if literal {
		reason = "it is a " + name + " address"
	}
	return &BlockedError{Host: host, Reason: reason, Addr: addr, Range: name}
}

// CloseIdleConnections closes the idle connections of the shared pool that
// Client and Transport use.
func (g *Guard) CloseIdleConnections() { g.transport.CloseIdleConnections() }

func normalizeHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is not between 1 and 65535", s)
	}
	return uint16(n), nil
}

// validHostName reports whether s is a plausible DNS name in ASCII (IDNs in
// their xn-- form): dot-separated labels of letters, digits, '-' and '_'.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

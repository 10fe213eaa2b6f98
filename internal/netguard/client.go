package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// CheckURL reports whether raw may be requested, without resolving its host:
// it must be at most MaxURLLength bytes, use http or https, name a host,
// carry no user name or password (such URLs are refused, not stripped), and
// its host must not be a refused IP address (in any notation), nor
// "localhost" or a name below ".localhost", unless the allowlist opens it.
// A nil result does not mean the request will be allowed: the address the
// host resolves to is checked when connecting. Errors are *BlockedError.
func (g *Guard) CheckURL(raw string) error {
	if len(raw) > MaxURLLength {
		return &BlockedError{Reason: fmt.Sprintf("the URL is longer than %d characters", MaxURLLength)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return &BlockedError{Reason: "the URL is not valid"}
	}
	return g.checkURL(u)
}

func (g *Guard) checkURL(u *url.URL) error {
	host := u.Hostname()
	block := func(reason string) error { return &BlockedError{Host: host, Reason: reason} }
	if len(u.String()) > MaxURLLength {
		return block(fmt.Sprintf("the URL is longer than %d characters", MaxURLLength))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return block("only http and https URLs are allowed")
	}
	if host == "" {
		return block("the URL has no host")
	}
	if u.User != nil {
		return block("URLs with a user name or password are not allowed")
	}
	port := uint16(80)
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := parsePort(p)
		if err != nil {
			return block("the port is not valid")
		}
		port = n
	}
	if addr, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil {
		return g.checkAddr(host, addr, port, true)
	}
	if looksLikeIPv4(host) {
		return block("IP addresses must be written in dotted decimal form")
	}
	if name := normalizeHost(host); (name == "localhost" || strings.HasSuffix(name, ".localhost")) && !g.hostAllowed(name, port) {
		return block("localhost is not allowed")
	}
	return nil
}

// Client returns an HTTP client whose requests go through the guard: every
// request and redirect target passes the CheckURL rules, every connection
// is made only to allowed addresses, no proxy is used, and at most
// MaxRedirects redirects are followed. timeout bounds each whole request,
// including reading the body (0 means none; callers should set one).
// Clients share the Guard's connection pool. Refusals surface as a
// *BlockedError inside the *url.Error that http.Client returns.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     g.Transport(),
		Timeout:       timeout,
		CheckRedirect: checkRedirect,
	}
}

// Transport returns an http.RoundTripper that applies the CheckURL rules to
// each request and dials with DialContext, for callers that build their own
// http.Client. Such callers must also limit redirects.
func (g *Guard) Transport() http.RoundTripper { return guardedTransport{g: g} }

type guardedTransport struct{ g *Guard }

func (t guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.g.checkURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.g.transport.RoundTrip(req)
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return &BlockedError{Host: req.URL.Hostname(), Reason: fmt.Sprintf("stopped after %d redirects", MaxRedirects)}
	}
	return nil
}

// DialContext connects to addr ("host:port") over TCP like net.Dialer, but
// checks every address the host resolves to just before connecting to it,
// refusing special-purpose addresses the allowlist does not open. A host
// name on the allowlist may connect to any address. Refusals are returned as
// a *BlockedError that does not name the refused address.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: dial %q: %w", addr, err)
	}
	port, err := parsePort(portText)
	if err != nil {
		return nil, fmt.Errorf("netguard: dial %q: %w", addr, err)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &BlockedError{Host: host, Reason: "only TCP connections are allowed"}
	}
	_, literalErr := netip.ParseAddr(host)
	literal := literalErr == nil

	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !g.hostAllowed(host, port) {
		d.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				// Fail closed: we cannot tell where this would connect.
				return &BlockedError{Host: host, Reason: "the destination address cannot be checked"}
			}
			return g.checkAddr(host, ap.Addr(), ap.Port(), literal)
		}
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		// Return the refusal itself: the *net.OpError around it names the
		// internal address.
		if blocked, ok := errors.AsType[*BlockedError](err); ok {
			return nil, blocked
		}
		return nil, err
	}
	return conn, nil
}

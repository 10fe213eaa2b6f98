package netguard

import (
	"net/netip"
	"strings"
)

type namedPrefix struct {
	prefix netip.Prefix
	name   string
}

// blockedRanges lists the special-purpose ranges (IANA IPv4 and IPv6
// Special-Purpose Address Registries) that requests may not reach, most
// specific first so that an address gets the most precise name.
func blockedRanges() []namedPrefix {
	table := []struct{ cidr, name string }{
		// IPv4.
		{"0.0.0.0/8", "unspecified"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared (carrier-grade NAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"}, // includes 169.254.169.254, cloud metadata
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol assignment"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved"},
		// IPv6. IPv4-mapped addresses (::ffff:0:0/96) are checked as IPv4 and
		// NAT64 addresses (64:ff9b::/96) by the IPv4 address they embed;
		// see blockedRange.
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "IPv4-compatible"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"100::/64", "discard-only"},
		{"2001:db8::/32", "documentation"},
		{"2001::/23", "IETF protocol assignment"}, // includes Teredo 2001::/32 and benchmarking 2001:2::/48
		{"2002::/16", "6to4"},
		{"3fff::/20", "documentation"},
		{"5f00::/16", "segment routing"},
		{"fc00::/7", "private (unique local)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]namedPrefix, len(table))
	for i, e := range table {
		out[i] = namedPrefix{prefix: netip.MustParsePrefix(e.cidr), name: e.name}
	}
	return out
}

// blockedRange reports whether addr may not be reached, and the name of the
// range it belongs to.
//
// 6to4 (2002::/16) and Teredo (2001::/32) are refused as whole ranges rather
// than judged by the IPv4 address they embed: both are deprecated, and a
// relay could deliver to an address we cannot see. IPv6 outside global
// unicast (2000::/3) is refused too.
func (g *Guard) blockedRange(addr netip.Addr) (string, bool) {
	addr = addr.WithZone("").Unmap()
	if !addr.IsValid() {
		return "invalid", true
	}
	if nat64 := netip.MustParsePrefix("64:ff9b::/96"); nat64.Contains(addr) {
		b := addr.As16()
		if name, blocked := g.blockedRange(netip.AddrFrom4([4]byte(b[12:]))); blocked {
			return "NAT64 " + name, true
		}
		return "", false
	}
	for _, r := range g.blocked {
		if r.prefix.Contains(addr) {
			return r.name, true
		}
	}
	if addr.Is6() && !netip.MustParsePrefix("2000::/3").Contains(addr) {
		return "reserved", true
	}
	return "", false
}

// looksLikeIPv4 reports whether host is an IPv4 address in a form other than
// dotted decimal that C resolvers (inet_aton) and browsers accept: one to
// four dot-separated numbers, each decimal, octal (leading 0) or hex (0x),
// as in "2130706433", "0x7f.1", "0177.0.0.1" or "127.1". Go does not parse
// them as addresses, but a resolver might; they are refused outright.
func looksLikeIPv4(host string) bool {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if host == "" || len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		digits, base := p, "0123456789"
		if len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X") {
			digits, base = p[2:], "0123456789abcdefABCDEF"
		}
		if p == "" || strings.Trim(digits, base) != "" {
			return false
		}
	}
	return true
}

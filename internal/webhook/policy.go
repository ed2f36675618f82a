package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Policy says which addresses deliveries may reach.
type Policy struct {
	// AllowPrivate permits private addresses (see isPrivate). Off by default so
	// a shared mlopsd cannot be made to call internal hosts; tests on loopback
	// and single-tenant installs turn it on (--allow-private-webhooks).
	AllowPrivate bool
}

// ErrPrivateAddress matches (errors.Is) every refusal by the Policy.
var ErrPrivateAddress = errors.New("private address refused")

// addrError refuses one address; host is the URL's hostname when it was not the address itself.
type addrError struct {
	host string
	addr netip.Addr
}

func (e *addrError) Error() string {
	what := e.addr.String() + " is a private address"
	if e.host != "" && e.host != e.addr.String() {
		what = e.host + " resolves to " + e.addr.String() + ", a private address"
	}
	return what + "; mlopsd refuses it unless started with --allow-private-webhooks"
}

func (e *addrError) Is(target error) bool { return target == ErrPrivateAddress }

// check refuses a private address unless the policy allows it.
func (p Policy) check(addr netip.Addr) error {
	if p.AllowPrivate || !isPrivate(addr) {
		return nil
	}
	return &addrError{addr: addr}
}

var privatePrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"; 0.0.0.0 dials the local host
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT, often internal in clouds
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking, used inside some networks
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, incl. broadcast
	netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
}

// nat64 embeds an IPv4 address in its last 32 bits (RFC 6052).
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// isPrivate reports whether addr is loopback, RFC 1918, RFC 4193 (fc00::/7),
// link-local (incl. the 169.254.169.254 metadata service), unspecified,
// multicast, CGNAT or another non-public range, also when written as an
// IPv4-mapped or NAT64 IPv6 address, which reach the same IPv4 host.
func isPrivate(addr netip.Addr) bool {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte(b[12:]))
	}
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		// Not global unicast: loopback, link-local, multicast, unspecified, broadcast.
		return true
	}
	for _, p := range privatePrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// CheckURL validates a webhook URL: http or https, a host, no userinfo and,
// unless the policy allows private addresses, a public address when the host
// is an IP literal. Hostnames are checked when dialed, against the address
// they resolve to then. Errors name the fix and never echo credentials.
func (s *Sender) CheckURL(raw string) error {
	_, err := s.checkURL(raw)
	return err
}

// checkURL is CheckURL returning the parsed URL.
func (s *Sender) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the input, which may hold a password; say what to write instead.
		return nil, errors.New("webhook URL is not a valid URL; use https://host/path")
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		if u.Scheme == "" {
			return nil, errors.New("webhook URL has no scheme; use https://host/path")
		}
		return nil, fmt.Errorf("webhook URL scheme %q is not allowed; use http or https", u.Scheme)
	}
	if u.User != nil {
		return nil, errors.New("webhook URL must not carry credentials (user:password@); receivers authenticate deliveries by their signature")
	}
	host := u.Hostname()
	if u.Opaque != "" || host == "" {
		return nil, errors.New("webhook URL has no host; use https://host/path")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := s.policy.check(addr); err != nil {
			return nil, err
		}
	}
	return u, nil
}

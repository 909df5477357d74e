package unfurl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress refuses a connection to an address that is not a
// public unicast one (see Public).
var ErrForbiddenAddress = errors.New("unfurl: address is not public")

// refused4 are the IPv4 ranges that are never fetched, besides what
// netip.Addr's own predicates catch (loopback, private, link-local,
// multicast, unspecified).
var refused4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast 255.255.255.255
}

// refused6 are the IPv6 ranges that are never fetched. The forms that
// carry an IPv4 address (mapped, NAT64, 6to4) are judged by that
// address instead; see Public.
var refused6 = []netip.Prefix{
	netip.MustParsePrefix("::/96"),          // unspecified, loopback, IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments (Teredo, ORCHID…)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("3fff::/20"),      // documentation
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Public reports whether a is a public unicast address a Fetcher may
// connect to. It refuses loopback, private (10/8, 172.16/12,
// 192.168/16), link-local (169.254/16, where cloud metadata services
// live, and fe80::/10), shared address space 100.64/10, unspecified,
// multicast, broadcast, 0/8, 192.0.0/24, benchmarking 198.18/15, the
// reserved 240/4, documentation ranges, IPv6 unique local fc00::/7 and
// the other special-purpose IPv6 ranges. An IPv6 address that carries an
// IPv4 one (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4
// 2002::/16) is judged by the IPv4 address it carries. A zone is
// ignored.
func Public(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			a = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(a):
			a = netip.AddrFrom4([4]byte(b[2:6]))
		}
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	list := refused6
	if a.Is4() {
		list = refused4
	}
	for _, p := range list {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// control returns the net.Dialer's ControlContext: it runs after name
// resolution, just before each connection is made, with the address
// actually dialled, and refuses any that allowed refuses (Public, but
// for the package's tests).
func control(allowed func(netip.AddrPort) bool) func(context.Context, string, string, syscall.RawConn) error {
	return func(_ context.Context, network, address string, _ syscall.RawConn) error {
		return check(allowed, network, address)
	}
}

// check refuses a connection over network to address unless it is TCP
// to an address allowed accepts.
func check(allowed func(netip.AddrPort) bool, network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %s", ErrForbiddenAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrForbiddenAddress, address, err)
	}
	if !allowed(ap) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// public is the check of a Fetcher's connections.
func public(ap netip.AddrPort) bool { return Public(ap.Addr()) }

package unfurl

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
)

// TestRedirectToPrivateRefused: a page on an allowed address that
// redirects to a forbidden one gets the redirect refused when it is
// connected to: the forbidden site sees no request. The test plays the
// allowed ("public") site on loopback by allowing its port only.
func TestRedirectToPrivateRefused(t *testing.T) {
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		internalHits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<title>internal</title>"))
	}))
	defer internal.Close()
	_, internalPort, _ := net.SplitHostPort(internal.Listener.Addr().String())
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/by-number":
			http.Redirect(w, r, internal.URL+"/", http.StatusFound)
		case "/by-name":
			http.Redirect(w, r, "http://localhost:"+internalPort+"/", http.StatusMovedPermanently)
		default:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<title>outside</title>"))
		}
	}))
	defer outside.Close()
	allowedPort := outside.Listener.Addr().(*net.TCPAddr).Port
	f := newFetcher(Config{}, func(ap netip.AddrPort) bool { return int(ap.Port()) == allowedPort })

	if e, err := f.Fetch(context.Background(), outside.URL+"/"); err != nil || e.Title != "outside" {
		t.Fatalf("the allowed site: %+v, %v", e, err)
	}
	for _, path := range []string{"/by-number", "/by-name"} {
		if e, err := f.Fetch(context.Background(), outside.URL+path); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("redirect %s: %+v, %v; want ErrForbiddenAddress", path, e, err)
		}
	}
	if n := internalHits.Load(); n != 0 {
		t.Fatalf("the internal site got %d requests", n)
	}
}

func TestCheckNetworks(t *testing.T) {
	for _, c := range []struct {
		network, address string
		ok               bool
	}{
		{"tcp4", "8.8.8.8:443", true},
		{"tcp6", "[2606:4700:4700::1111]:80", true},
		{"tcp4", "127.0.0.1:80", false},
		{"tcp6", "[::1]:80", false},
		{"udp", "8.8.8.8:53", false},
		{"tcp", "not-an-address", false},
	} {
		err := check(public, c.network, c.address)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("check(%s, %s) = %v", c.network, c.address, err)
		}
	}
}

package unfurl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshichat/oshi/unfurl"
)

// site is a test web site on loopback that counts the requests it gets.
type site struct {
	*httptest.Server
	hits atomic.Int64
}

func newSite(t *testing.T, h http.Handler) *site {
	t.Helper()
	s := &site{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// page serves body with the content type.
func page(ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		_, _ = w.Write([]byte(body))
	}
}

// testFetcher may reach loopback, which the tests' sites are on.
func testFetcher(cfg unfurl.Config) *unfurl.Fetcher {
	cfg.AllowPrivate = true
	return unfurl.New(cfg)
}

func TestFetchParse(t *testing.T) {
	const html = "text/html; charset=utf-8"
	padding := strings.Repeat("<p>filler filler filler</p>\n", (1<<20)/28+100) // > 1 MiB
	long := strings.Repeat("é", 300)
	mux := http.NewServeMux()
	routes := map[string]http.HandlerFunc{
		"/og": page(html, `<html><head><title>Plain title</title>
			<meta property="og:title" content="OG &amp; title">
			<meta property="og:description" content="  An   OG
			description ">
			<meta property="og:site_name" content="Example">
			<meta property="og:image" content="https://cdn.example.com/a.png">
			<meta name="description" content="plain description">
			</head><body>hi</body></html>`),
		"/title":     page(html, `<html><head><title> Just a   title </title><meta name="description" content="Plain words"></head></html>`),
		"/twitter":   page(html, `<head><meta name="twitter:title" content="Tw title"><meta name="twitter:description" content="Tw desc"><meta name="twitter:image" content="/tw.png"><title>ignored</title></head>`),
		"/relative":  page(html, `<head><meta property="og:title" content="Rel"><meta property="og:image" content="../img/x.png?a=1"></head>`),
		"/base":      page(html, `<head><base href="https://static.example.org/assets/"><meta property="og:title" content="Based"><meta property="og:image" content="p.jpg"></head>`),
		"/badimage":  page(html, `<head><meta property="og:title" content="Bad image"><meta property="og:image" content="javascript:alert(1)"></head>`),
		"/userimage": page(html, `<head><meta property="og:title" content="User image"><meta property="og:image" content="https://u:p@example.com/i.png"></head>`),
		"/bodytitle": page(html, `<html><body><svg><title>not a title</title></svg></body></html>`),
		"/long":      page(html, `<head><title>`+long+`</title></head>`),
		"/invalid":   page(html, "<head><title>bad \xff\xfe bytes</title></head>"),
		"/controls":  page(html, "<head><title>a\x01b\u202ec\r\nd</title></head>"),
		"/latin1":    page("text/html; charset=iso-8859-1", "<head><title>caf\xe9</title></head>"),
		"/metalatin": page("text/html", "<head><meta charset=\"ISO-8859-1\"><title>na\xefve</title></head>"),
		"/huge-late": page(html, "<html><head>"+padding+`<meta property="og:title" content="Too late"></head></html>`),
		"/huge":      page(html, `<html><head><meta property="og:title" content="Early">`+padding+`<meta property="og:description" content="Too late"></head></html>`),
		"/json":      page("application/json", `{"title":"no"}`),
		"/image":     page("image/png", "\x89PNG\r\n\x1a\nnot really"),
		"/sniffed":   page("", "<!DOCTYPE html><html><head><title>Sniffed</title></head></html>"),
		"/empty":     page(html, `<html><head></head><body>nothing</body></html>`),
		"/missing":   http.NotFound,
	}
	for path, h := range routes {
		mux.Handle(path, h)
	}
	s := newSite(t, mux)
	f := testFetcher(unfurl.Config{})

	cases := []struct {
		path string
		want unfurl.Embed // URL is filled in
		err  error
	}{
		{path: "/og", want: unfurl.Embed{Type: unfurl.Link, Title: "OG & title", Description: "An OG description", SiteName: "Example", Image: "https://cdn.example.com/a.png"}},
		{path: "/title", want: unfurl.Embed{Type: unfurl.Link, Title: "Just a title", Description: "Plain words"}},
		{path: "/twitter", want: unfurl.Embed{Type: unfurl.Link, Title: "Tw title", Description: "Tw desc", Image: s.URL + "/tw.png"}},
		{path: "/relative", want: unfurl.Embed{Type: unfurl.Link, Title: "Rel", Image: s.URL + "/img/x.png?a=1"}},
		{path: "/base", want: unfurl.Embed{Type: unfurl.Link, Title: "Based", Image: "https://static.example.org/assets/p.jpg"}},
		{path: "/badimage", want: unfurl.Embed{Type: unfurl.Link, Title: "Bad image"}},
		{path: "/userimage", want: unfurl.Embed{Type: unfurl.Link, Title: "User image"}},
		{path: "/bodytitle", err: unfurl.ErrNoMetadata},
		{path: "/long", want: unfurl.Embed{Type: unfurl.Link, Title: strings.Repeat("é", unfurl.MaxTitle-1) + "…"}},
		{path: "/invalid", want: unfurl.Embed{Type: unfurl.Link, Title: "bad \ufffd bytes"}},
		{path: "/controls", want: unfurl.Embed{Type: unfurl.Link, Title: "a bc d"}},
		{path: "/latin1", want: unfurl.Embed{Type: unfurl.Link, Title: "café"}},
		{path: "/metalatin", want: unfurl.Embed{Type: unfurl.Link, Title: "naïve"}},
		{path: "/huge-late", err: unfurl.ErrNoMetadata},
		{path: "/huge", want: unfurl.Embed{Type: unfurl.Link, Title: "Early"}},
		{path: "/json", err: unfurl.ErrUnsupportedType},
		{path: "/image", want: unfurl.Embed{Type: unfurl.Image, Image: s.URL + "/image"}},
		{path: "/sniffed", want: unfurl.Embed{Type: unfurl.Link, Title: "Sniffed"}},
		{path: "/empty", err: unfurl.ErrNoMetadata},
		{path: "/missing", err: unfurl.ErrStatus},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			got, err := f.Fetch(context.Background(), s.URL+c.path+"#frag")
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Fetch = %+v, %v; want error %v", got, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			want.URL = s.URL + c.path
			if *got != want {
				t.Fatalf("Fetch =\n %+v\nwant\n %+v", *got, want)
			}
		})
	}
}

func TestFetchRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/r/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			page("text/html", "<title>Arrived</title>")(w, r)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/to-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/file", http.StatusFound)
	})
	mux.HandleFunc("/to-userinfo", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://user:secret@"+r.Host+"/r/0", http.StatusFound)
	})
	s := newSite(t, mux)
	f := testFetcher(unfurl.Config{})
	ctx := context.Background()

	e, err := f.Fetch(ctx, s.URL+"/r/3")
	if err != nil || e.Title != "Arrived" || e.URL != s.URL+"/r/3" {
		t.Fatalf("three redirects: %+v, %v", e, err)
	}
	before := s.hits.Load()
	if _, err := f.Fetch(ctx, s.URL+"/r/4"); !errors.Is(err, unfurl.ErrTooManyRedirects) {
		t.Fatalf("four redirects: %v, want ErrTooManyRedirects", err)
	}
	if n := s.hits.Load() - before; n != 4 {
		t.Fatalf("four redirects made %d requests, want 4 (the fifth is not made)", n)
	}
	if _, err := testFetcher(unfurl.Config{MaxRedirects: -1}).Fetch(ctx, s.URL+"/r/1"); !errors.Is(err, unfurl.ErrTooManyRedirects) {
		t.Fatalf("no redirects allowed: %v", err)
	}
	for _, path := range []string{"/to-ftp", "/to-userinfo"} {
		if _, err := f.Fetch(ctx, s.URL+path); !errors.Is(err, unfurl.ErrUnsupportedURL) {
			t.Fatalf("%s: %v, want ErrUnsupportedURL", path, err)
		}
	}
}

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	s := newSite(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><head>"))
		w.(http.Flusher).Flush()
		select { // a page that never ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer close(release)
	f := testFetcher(unfurl.Config{Timeout: 200 * time.Millisecond})
	_, err := f.Fetch(context.Background(), s.URL+"/slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch of a page that never ends: %v, want a deadline error", err)
	}
}

// TestDefaultFetcherRefusesLoopback proves that a Fetcher made with the
// defaults connects to no loopback address, whether named by IPv4, IPv6
// or a host name: the site sees no request.
func TestDefaultFetcherRefusesLoopback(t *testing.T) {
	s := newSite(t, page("text/html", "<title>secret</title>"))
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	urls := []string{
		"http://127.0.0.1:" + port + "/",
		"http://localhost:" + port + "/",
		"http://127.0.0.2:" + port + "/",
		"http://0.0.0.0:" + port + "/", // Linux connects it to loopback
		"http://[::ffff:127.0.0.1]:" + port + "/",
	}
	// The same site on IPv6 loopback, when the machine has it.
	var hits6 atomic.Int64
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		s6 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits6.Add(1)
			page("text/html", "<title>secret</title>")(w, r)
		}))
		s6.Listener.Close()
		s6.Listener = ln
		s6.Start()
		t.Cleanup(s6.Close)
		_, port6, _ := net.SplitHostPort(ln.Addr().String())
		urls = append(urls, "http://[::1]:"+port6+"/", "http://localhost:"+port6+"/")
		// The site is reachable when the check is off: the refusals
		// below are the check's doing.
		if e, err := testFetcher(unfurl.Config{}).Fetch(context.Background(), s6.URL); err != nil || e.Title != "secret" {
			t.Fatalf("AllowPrivate fetch of %s: %+v, %v", s6.URL, e, err)
		}
		hits6.Store(0)
	} else {
		t.Logf("no IPv6 loopback: %v", err)
	}
	if e, err := testFetcher(unfurl.Config{}).Fetch(context.Background(), s.URL); err != nil || e.Title != "secret" {
		t.Fatalf("AllowPrivate fetch of %s: %+v, %v", s.URL, e, err)
	}
	s.hits.Store(0)

	f := unfurl.New(unfurl.Config{})
	for _, u := range urls {
		e, err := f.Fetch(context.Background(), u)
		if !errors.Is(err, unfurl.ErrForbiddenAddress) {
			t.Errorf("Fetch(%s) = %+v, %v; want ErrForbiddenAddress", u, e, err)
		}
	}
	if n := s.hits.Load() + hits6.Load(); n != 0 {
		t.Fatalf("the site got %d requests from the default fetcher", n)
	}
}

func TestFetchRefusesURLs(t *testing.T) {
	s := newSite(t, page("text/html", "<title>x</title>"))
	host := strings.TrimPrefix(s.URL, "http://")
	f := testFetcher(unfurl.Config{})
	for _, u := range []string{
		"ftp://" + host + "/",
		"file:///etc/passwd",
		"javascript:alert(1)",
		"http://user:pass@" + host + "/",
		"http://user@" + host + "/",
		"http:///nohost",
		"//" + host + "/",
		"/relative",
		"http://%zz/",
		"gopher://" + host + "/",
	} {
		if _, err := f.Fetch(context.Background(), u); !errors.Is(err, unfurl.ErrUnsupportedURL) {
			t.Errorf("Fetch(%q): %v, want ErrUnsupportedURL", u, err)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Fatalf("the site got %d requests", n)
	}
}

func TestFetchSendsUserAgent(t *testing.T) {
	var got atomic.Value
	s := newSite(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("User-Agent"))
		page("text/html", "<title>x</title>")(w, r)
	}))
	if _, err := testFetcher(unfurl.Config{}).Fetch(context.Background(), s.URL); err != nil {
		t.Fatal(err)
	}
	if ua, _ := got.Load().(string); ua != unfurl.DefaultUserAgent || !strings.Contains(ua, "Oshi") {
		t.Fatalf("User-Agent = %q", ua)
	}
}

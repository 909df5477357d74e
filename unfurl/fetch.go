package unfurl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxBytes     = 1 << 20
	DefaultMaxRedirects = 3
	// DefaultUserAgent names Oshi, so site owners can tell its previews
	// from other traffic.
	DefaultUserAgent = "Mozilla/5.0 (compatible; Oshi-LinkPreview/1.0; +https://github.com/oshichat/oshi)"
)

// Length limits of an Embed's fields, in characters; a longer value is
// cut and ends with "…". An image URL longer than MaxImageURL bytes is
// dropped.
const (
	MaxTitle       = 256
	MaxDescription = 1024
	MaxSiteName    = 256
	MaxImageURL    = 2048
)

// Errors of Fetch, besides ErrForbiddenAddress and those of the network.
var (
	ErrUnsupportedURL   = errors.New("unfurl: only http and https URLs without user information are fetched")
	ErrTooManyRedirects = errors.New("unfurl: too many redirects")
	ErrStatus           = errors.New("unfurl: the server did not answer 200 OK")
	ErrUnsupportedType  = errors.New("unfurl: the page is neither HTML nor an image")
	ErrNoMetadata       = errors.New("unfurl: the page has no title, description or image")
)

// Config configures a Fetcher. Zero values mean the defaults.
type Config struct {
	// Timeout bounds a whole fetch: connecting, redirects, reading the
	// page; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBytes is how much of a page is read; the rest is ignored. 0
	// means DefaultMaxBytes.
	MaxBytes int64
	// MaxRedirects is how many redirects are followed; 0 means
	// DefaultMaxRedirects, a negative value none.
	MaxRedirects int
	// UserAgent is sent with every request; empty means
	// DefaultUserAgent.
	UserAgent string
	// AllowPrivate turns the address check off, so that loopback and
	// private addresses are fetched too. It is UNSAFE: it exists only
	// for tests that fetch from an httptest server on loopback. Never
	// set it from configuration a user controls.
	AllowPrivate bool
}

// Type is the kind of an Embed.
type Type string

// Embed types.
const (
	// Link is a web page described by its metadata.
	Link Type = "link"
	// Image is a URL that serves an image; Image repeats the URL.
	Image Type = "image"
)

// Embed is what a page says about itself. Every text field is valid
// UTF-8 without control characters, its white space collapsed, and cut
// to its limit (MaxTitle…).
type Embed struct {
	// URL is the URL that was asked for, as Fetch parsed it.
	URL  string
	Type Type
	// Title is og:title, else twitter:title, else the page's <title>.
	Title string
	// Description is og:description, else twitter:description, else
	// <meta name="description">.
	Description string
	// SiteName is og:site_name.
	SiteName string
	// Image is the absolute http(s) URL of og:image (else twitter:image),
	// resolved against the page's URL. It is never fetched.
	Image string
}

// Fetcher fetches embeds. It is safe for concurrent use.
type Fetcher struct {
	cfg    Config
	client *http.Client
}

// New returns a Fetcher.
func New(cfg Config) *Fetcher { return newFetcher(cfg, public) }

// newFetcher is New with the check of the addresses connected to, which
// the package's tests replace.
func newFetcher(cfg Config, allowed func(netip.AddrPort) bool) *Fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		dialer.ControlContext = control(allowed)
	}
	tr := &http.Transport{
		// No proxy: a proxy from the environment would connect in our
		// place, past the address check.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		// Every fetch connects anew and leaves no idle connection behind:
		// previews are rare, and nothing outlives the fetch.
		DisableKeepAlives: true,
	}
	f := &Fetcher{cfg: cfg}
	f.client = &http.Client{
		Transport: tr,
		Jar:       nil,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > max(cfg.MaxRedirects, 0) {
				return ErrTooManyRedirects
			}
			if _, err := checkURL(req.URL.String()); err != nil {
				return err
			}
			return nil
		},
	}
	return f
}

// checkURL parses rawURL and accepts only absolute http and https URLs
// with a host and without user information.
func checkURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return nil, ErrUnsupportedURL
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// Fetch fetches rawURL and returns its embed: a Link built from an HTML
// page's metadata, or an Image when the URL serves an image (whose body
// is not read). It fails with ErrForbiddenAddress when the URL, or a
// redirect, leads to an address that is not Public, and with the other
// errors of the package when the page cannot give an embed.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*Embed, error) {
	u, err := checkURL(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,image/*;q=0.8")
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the URL
		}
		return nil, fmt.Errorf("unfurl %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s", ErrStatus, resp.Status)
	}
	body := bufio.NewReaderSize(io.LimitReader(resp.Body, f.cfg.MaxBytes), 4096)
	ctype, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ctype == "" {
		head, _ := body.Peek(512)
		ctype, params, _ = mime.ParseMediaType(http.DetectContentType(head))
	}
	switch {
	case strings.HasPrefix(ctype, "image/"):
		final := resp.Request.URL.String()
		if len(final) > MaxImageURL {
			return nil, ErrNoMetadata
		}
		return &Embed{URL: u.String(), Type: Image, Image: final}, nil
	case ctype == "text/html" || ctype == "application/xhtml+xml":
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedType, ctype)
	}
	m, err := parse(body, params["charset"])
	if err != nil && ctx.Err() != nil {
		err = ctx.Err() // the timeout closed the connection
	}
	if err != nil {
		return nil, fmt.Errorf("unfurl %s: read page: %w", u.Redacted(), err)
	}
	e := m.embed(resp.Request.URL)
	if e.Title == "" && e.Description == "" && e.Image == "" {
		return nil, ErrNoMetadata
	}
	e.URL = u.String()
	return e, nil
}

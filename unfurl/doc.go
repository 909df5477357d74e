// Package unfurl fetches the title, description and image of a web page
// for a link preview ("embed"), safely.
//
// A chat server that fetches the links its users post is a request
// forgery waiting to happen: a user posts http://169.254.169.254/ or
// http://localhost:8080/admin and the server reads its own network for
// them. A Fetcher refuses that. It checks the address it actually
// connects to, after DNS resolution and on every connection (redirects
// included), so a name that resolves to an internal address, or is made
// to by DNS rebinding, is refused as well as a literal one. Loopback,
// private, link-local (cloud metadata), shared (CGNAT), multicast,
// reserved and documentation ranges are refused, in IPv4 and in every
// IPv6 form that carries an IPv4 address (see Public). Proxies from the
// environment are not used, since a proxy would make the connection in
// the Fetcher's place.
//
// Beyond the address check a fetch is bounded: http and https only, no
// user information in URLs, at most MaxRedirects redirects, one Timeout
// for the whole fetch, at most MaxBytes of the page read, and only HTML
// parsed. An image URL becomes an image embed without its body being
// read. The page's og:image is returned as a URL and never fetched.
//
// The package imports nothing of Oshi: it can serve any program that
// previews links.
package unfurl

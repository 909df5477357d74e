package unfurl_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/oshichat/oshi/unfurl"
)

// A chat server previews a link its user posted. The fetch connects
// only to public addresses, so a link to the server's own network gets
// no preview.
func ExampleFetcher_Fetch() {
	f := unfurl.New(unfurl.Config{Timeout: 5 * time.Second})
	e, err := f.Fetch(context.Background(), "https://go.dev/")
	if err != nil {
		fmt.Println("no preview:", err)
		return
	}
	fmt.Println(e.Title, e.Description, e.Image)
}

func ExamplePublic() {
	for _, s := range []string{"8.8.8.8", "169.254.169.254", "::ffff:10.0.0.1", "2606:4700:4700::1111"} {
		fmt.Println(s, unfurl.Public(netip.MustParseAddr(s)))
	}
	// Output:
	// 8.8.8.8 true
	// 169.254.169.254 false
	// ::ffff:10.0.0.1 false
	// 2606:4700:4700::1111 true
}

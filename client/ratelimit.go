package client

import (
	"encoding/json"
	"fmt"
	"time"
)

// RateLimitError is a rate_limit reply: the server refused the request
// under the user's rate limits and did nothing. Retrying after Wait may
// succeed. Code(err) reports "rate_limit", and errors.As finds an *Error
// with that code too.
type RateLimitError struct {
	Src  string        // the refused command
	Wait time.Duration // how long to wait before trying again
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("oshi: %s rate limited: retry in %v", e.Src, e.Wait)
}

// As lets errors.As(err, &e) with e an *Error see a rate_limit reply as
// an error with code "rate_limit", so Code works on it.
func (e *RateLimitError) As(target any) bool {
	p, ok := target.(**Error)
	if ok {
		*p = &Error{Cmd: "rate_limit", Src: e.Src, Code: "rate_limit", Message: e.Error()}
	}
	return ok
}

// rateLimitError decodes a rate_limit reply; length is in milliseconds.
func rateLimitError(data []byte) error {
	var f struct {
		Src    string `json:"src"`
		Length int64  `json:"length"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("oshi: malformed rate_limit reply: %w", err)
	}
	return &RateLimitError{Src: f.Src, Wait: time.Duration(f.Length) * time.Millisecond}
}

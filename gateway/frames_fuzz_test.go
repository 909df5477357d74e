package gateway

import (
	"encoding/json"
	"testing"
)

// FuzzParseRequest feeds arbitrary frames to the decoder: it must never
// panic, must accept only frames with a cmd and a string or number ref,
// and its error replies must encode.
func FuzzParseRequest(f *testing.F) {
	for _, seed := range []string{
		`{"cmd":"auth","ref":1,"token":"abc"}`,
		`{"cmd":"message_new","ref":"x","stream":"s","content":"hi","nonce":"n"}`,
		`{"cmd":"subscribe","stream":"s","since":5}`,
		`{"cmd":"history","stream":"s","before":10,"limit":100}`,
		`{"cmd":"ping","ref":{"a":1}}`,
		`{"cmd":`, `[]`, `null`, `{"ref":1}`, `{"cmd":"x","since":-1}`, "{\"cmd\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, h, err := parseRequest(data)
		if req == nil {
			t.Fatal("nil request")
		}
		if err != nil {
			code, _ := classify(err)
			if code != CodeBadRequest {
				t.Fatalf("parse error code %q", code)
			}
			_ = encode(errorFrame{header: header{Cmd: "error", Ref: h.Ref}, Src: req.Cmd, Code: code, Val: err.Error()})
			return
		}
		if req.Cmd == "" || !validRef(req.Ref) {
			t.Fatalf("accepted %q with cmd %q ref %s", data, req.Cmd, req.Ref)
		}
		if len(req.Ref) > 0 && !json.Valid(req.Ref) {
			t.Fatalf("accepted invalid ref %s", req.Ref)
		}
	})
}

package auth

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h1, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse")
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %q", h1)
	}
	cases := []struct {
		hash, password string
		ok             bool
		err            bool
	}{
		{h1, "correct horse", true, false},
		{h2, "correct horse", true, false},
		{h1, "correct horsE", false, false},
		{h1, "", false, false},
		{"$bcrypt$x", "correct horse", false, true},
		{"$argon2id$v=19$m=1,t=1,p=1$!!$!!", "x", false, true},
	}
	for _, tc := range cases {
		ok, err := CheckPassword(tc.hash, tc.password)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("CheckPassword(%.20q, %q) = %v, %v", tc.hash, tc.password, ok, err)
		}
	}
}

func TestValidUsername(t *testing.T) {
	cases := map[string]bool{
		"a": true, "Alice_01": true, strings.Repeat("x", 32): true,
		"": false, strings.Repeat("x", 33): false, "al ice": false, "ali-ce": false, "élise": false, "a\x00": false,
	}
	for name, want := range cases {
		if got := ValidUsername(name); got != want {
			t.Errorf("ValidUsername(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHashToken(t *testing.T) {
	if HashToken("a") == HashToken("b") || len(HashToken("a")) != 64 || HashToken("a") == "a" {
		t.Fatal("HashToken is not a hex SHA-256")
	}
}

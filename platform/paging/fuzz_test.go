package paging

import (
	"errors"
	"testing"
	"unicode/utf8"

	"convene.dev/platform/errdefs"
)

// FuzzDecode: Decode never panics, refuses with INVALID_ARGUMENT only, and
// a token from Encode decodes to its key for its query — and for no other.
func FuzzDecode(f *testing.F) {
	for _, seed := range []struct{ token, query, key string }{
		{"", "", "k"},
		{Encode("q", "k"), "q", "k"},
		{Encode("kind = WORKSHOP\x00start_time desc", "20250310150000.000000000\x00events/a"), "kind = WORKSHOP\x00start_time desc", "x"},
		{"!!!", "q", "key\x00with/odd+bytes"},
		{"aGVsbG8", "q", "é"},
		{"eyJhIjoiIiwicSI6IiJ9", "", "2222"}, // {"a":"","q":""}
		{"eyJhIjoxLCJxIjpudWxsfQ", "q", "-"}, // {"a":1,"q":null}
		{"e30", "q", "x"},                    // {}
		{"bnVsbA", "q", "x"},                 // null
		{"eyJhIjoieCIsInEiOiJ5In0=", "q", "x"},
		{Encode("q", "k") + "A", "q", "k"},
		{"\xff\xfe", "\xff", "\xff"},
	} {
		f.Add(seed.token, seed.query, seed.key)
	}
	f.Fuzz(func(t *testing.T, token, query, key string) {
		got, err := Decode(token, query)
		switch {
		case err != nil && !errors.Is(err, errdefs.ErrInvalidArgument):
			t.Fatalf("Decode(%q, %q) error %v is not INVALID_ARGUMENT", token, query, err)
		case err != nil && got != "":
			t.Fatalf("Decode(%q, %q) = %q with error %v", token, query, got, err)
		case err == nil && token == "" && got != "":
			t.Fatalf("Decode of the empty token = %q, want the beginning", got)
		case err == nil && token != "" && got == "":
			t.Fatalf("Decode(%q, %q) = \"\" without an error: a non-empty token must continue after something", token, query)
		}

		// Every sort key Convene makes is text (protobuf strings are UTF-8,
		// ids are ASCII) and not empty; those must round-trip.
		if key == "" || !utf8.ValidString(key) {
			return
		}
		tok := Encode(query, key)
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("Encode(%q, %q) = %q is not URL-safe", query, key, tok)
			}
		}
		back, err := Decode(tok, query)
		if err != nil || back != key {
			t.Fatalf("Decode(Encode(%q, %q)) = %q, %v; want the key back", query, key, back, err)
		}
		if query != "" {
			if _, err := Decode(tok, query+"x"); !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("a token of query %q was accepted for %q (err %v)", query, query+"x", err)
			}
		}
	})
}

// Package paging implements AIP-158 list paging: page sizes with a default
// and a maximum, and opaque, URL-safe page tokens bound to the query that
// produced them.
package paging

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"convene.dev/platform/errdefs"
)

// Default and Max are the page sizes of every list method.
const (
	Default = 25
	Max     = 100
)

// Size returns the page size to use for a requested one: Default for 0, Max
// for anything above it, an INVALID_ARGUMENT error for a negative size.
func Size(requested int32) (int, error) {
	switch {
	case requested < 0:
		return 0, errdefs.Violation("page_size", "must not be negative, got %d", requested)
	case requested == 0:
		return Default, nil
	case requested > Max:
		return Max, nil
	}
	return int(requested), nil
}

type token struct {
	After string `json:"a"`
	Query string `json:"q"`
}

// queryHash identifies the query (filter, order, parent…) that a token belongs to.
func queryHash(query string) string {
	sum := sha256.Sum256([]byte(query))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// Encode returns the token for the page that starts after the item with the
// sort key after, for the given query.
func Encode(query, after string) string {
	b, _ := json.Marshal(token{After: after, Query: queryHash(query)}) // cannot fail: two strings
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the sort key a token continues after. An empty token starts
// at the beginning. A token that is malformed, or that was made for another
// query, is an INVALID_ARGUMENT error on the field page_token.
func Decode(pageToken, query string) (string, error) {
	if pageToken == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil {
		return "", errdefs.Violation("page_token", "malformed page token")
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.After == "" {
		return "", errdefs.Violation("page_token", "malformed page token")
	}
	if t.Query != queryHash(query) {
		return "", errdefs.Violation("page_token", "page token belongs to another filter or order; start again without it")
	}
	return t.After, nil
}

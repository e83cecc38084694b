// Package auth authenticates the callers of Convene's gRPC services and
// authorises each method by one table.
//
// Callers present an opaque bearer token in the "authorization" metadata
// (the gateway forwards the HTTP header). The services know only the SHA-256
// hashes of the tokens, from an auth file:
//
//	{"tokens": [
//	  {"name": "secretariat", "role": "organizer", "sha256": "<hex>"},
//	  {"name": "mx", "role": "focal_point", "country": "MX", "sha256": "<hex>"},
//	  {"name": "registrations", "role": "service", "sha256": "<hex>"}
//	]}
//
// A caller without a token is the public. A registrant may also present the
// secret returned when they registered, in "x-registration-secret"; the
// registrations service checks it against the hash it stored.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"convene.dev/platform/country"
	"convene.dev/platform/errdefs"
)

// Role is what a caller is to Convene.
type Role string

// The roles.
const (
	Public     Role = "public"
	Organizer  Role = "organizer"
	FocalPoint Role = "focal_point"
	Service    Role = "service"
)

// Metadata keys.
const (
	AuthorizationKey = "authorization"
	SecretKey        = "x-registration-secret"
)

// Principal is an authenticated caller.
type Principal struct {
	Name    string // the token's name; empty for the public
	Role    Role
	Country string // the delegation of a focal point
	Secret  string // a registrant's secret, if one was presented
}

// IsOrganizer reports whether p may do everything.
func (p Principal) IsOrganizer() bool { return p.Role == Organizer }

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller of a call; the public when none is known.
func FromContext(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Role: Public}
}

// Token is one entry of the auth file.
type Token struct {
	Name    string `json:"name"`
	Role    Role   `json:"role"`
	Country string `json:"country,omitempty"`
	SHA256  string `json:"sha256"`
}

// File is the auth file.
type File struct {
	Tokens []Token `json:"tokens"`
}

type entry struct {
	p    Principal
	hash [sha256.Size]byte
}

// Authenticator recognises tokens.
type Authenticator struct {
	entries []entry
	// insecure makes every caller without a token an organizer: for
	// development only (-insecure-dev).
	insecure bool
	// jwt, when set, checks signed JWTs (see AcceptJWT).
	jwt *jwtVerifier
}

// AcceptJWT makes a also accept signed JWTs as c describes, beside the
// tokens of its auth file. now is time.Now outside tests.
func (a *Authenticator) AcceptJWT(c JWTConfig, now func() time.Time) error {
	v, err := newJWTVerifier(c, now)
	if err != nil {
		return err
	}
	a.jwt = v
	return nil
}

// Load reads and checks an auth file.
func Load(path string) (*Authenticator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	var f File
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	a, err := New(f)
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	return a, nil
}

// New checks the tokens of an auth file and returns their Authenticator.
func New(f File) (*Authenticator, error) {
	a := &Authenticator{}
	names := map[string]bool{}
	for i, t := range f.Tokens {
		if t.Name == "" || names[t.Name] {
			return nil, fmt.Errorf("token %d: name %q is empty or used twice", i, t.Name)
		}
		names[t.Name] = true
		switch t.Role {
		case Organizer, Service:
			if t.Country != "" {
				return nil, fmt.Errorf("token %q: only a focal_point has a country", t.Name)
			}
		case FocalPoint:
			if !country.Valid(t.Country) {
				return nil, fmt.Errorf("token %q: focal_point needs an ISO 3166-1 alpha-2 country, got %q", t.Name, t.Country)
			}
		default:
			return nil, fmt.Errorf("token %q: unknown role %q (organizer, focal_point or service)", t.Name, t.Role)
		}
		raw, err := hex.DecodeString(t.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("token %q: sha256 must be 64 hex digits", t.Name)
		}
		e := entry{p: Principal{Name: t.Name, Role: t.Role, Country: t.Country}}
		copy(e.hash[:], raw)
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// Insecure returns an Authenticator for development that treats every
// caller without a token as an organizer.
func Insecure() *Authenticator { return &Authenticator{insecure: true} }

// HashToken returns the hex SHA-256 of a token, as the auth file holds it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the caller described by the incoming metadata. No
// token is the public; a token that is not known, or a malformed header, is
// UNAUTHENTICATED.
func (a *Authenticator) Authenticate(md metadata.MD) (Principal, error) {
	p := Principal{Role: Public}
	if a.insecure {
		p.Role = Organizer
	}
	if s := md.Get(SecretKey); len(s) > 0 {
		p.Secret = s[0]
	}
	h := md.Get(AuthorizationKey)
	if len(h) == 0 || h[0] == "" {
		return p, nil
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return Principal{}, errdefs.Newf(errdefs.ErrUnauthenticated, "BAD_CREDENTIALS", "the authorization header must be \"Bearer <token>\"")
	}
	token = strings.TrimSpace(token)
	if a.jwt != nil && looksLikeJWT(token) {
		caller, err := a.jwt.verify(token)
		if err != nil {
			return Principal{}, err
		}
		caller.Secret = p.Secret
		return caller, nil
	}
	sum := sha256.Sum256([]byte(token))
	// Compare with every entry, in constant time, so that timing tells
	// nothing about which hashes exist.
	found := -1
	for i := range a.entries {
		if subtle.ConstantTimeCompare(sum[:], a.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, errdefs.Newf(errdefs.ErrUnauthenticated, "BAD_CREDENTIALS", "the token is not valid")
	}
	caller := a.entries[found].p
	caller.Secret = p.Secret
	return caller, nil
}

// CheckSecret reports whether secret matches the stored hash (hex SHA-256),
// in constant time.
func CheckSecret(secret, storedHash string) bool {
	if secret == "" || storedHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashToken(secret)), []byte(storedHash)) == 1
}

// Setup returns the Authenticator for a service's flags: the auth file
// (and signed JWTs beside it, when jwt is enabled), or, with insecureDev
// and no file, one that lets everyone in as an organizer. A service
// without either refuses to start.
func Setup(file string, insecureDev bool, jwt JWTConfig) (*Authenticator, error) {
	switch {
	case file != "":
		a, err := Load(file)
		if err != nil {
			return nil, err
		}
		if jwt.Enabled() {
			if err := a.AcceptJWT(jwt, time.Now); err != nil {
				return nil, err
			}
		}
		return a, nil
	case jwt.Enabled():
		return nil, fmt.Errorf("JWTs are accepted beside an auth file: give -auth-file too (its list of tokens may be empty)")
	case insecureDev:
		return Insecure(), nil
	}
	return nil, fmt.Errorf("no -auth-file given: refusing to start without authentication (pass -insecure-dev to run open, for development only)")
}

package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/metadata"

	"convene.dev/platform/errdefs"
)

var jwtNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// writeKey writes pub as a PEM PUBLIC KEY file and returns its path.
func writeKey(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// claims returns valid claims for role (and country), changed by edit.
func claims(role Role, country string, edit func(*jwtClaims)) *jwtClaims {
	c := &jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "https://idp.example.org",
			Subject:   "ana.perez",
			Audience:  jwt.ClaimStrings{"convene"},
			IssuedAt:  jwt.NewNumericDate(jwtNow.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(jwtNow.Add(time.Hour)),
		},
		Role:    role,
		Country: country,
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c *jwtClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTs(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	cfg := func(pub crypto.PublicKey) JWTConfig {
		return JWTConfig{KeyFile: writeKey(t, pub), Issuer: "https://idp.example.org", Audience: "convene"}
	}
	authn := func(pub crypto.PublicKey) *Authenticator {
		a, err := New(testFile())
		if err != nil {
			t.Fatal(err)
		}
		if err := a.AcceptJWT(cfg(pub), func() time.Time { return jwtNow }); err != nil {
			t.Fatal(err)
		}
		return a
	}
	rsaAuth, ecAuth, edAuth := authn(&rsaKey.PublicKey), authn(&ecKey.PublicKey), authn(edPub)
	rsaPEM, _ := os.ReadFile(cfg(&rsaKey.PublicKey).KeyFile)

	tests := []struct {
		name  string
		a     *Authenticator
		token string
		want  Principal // zero: UNAUTHENTICATED
	}{
		{"RS256 organizer", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", nil)), Principal{Name: "ana.perez", Role: Organizer}},
		{"ES256 focal point", ecAuth, sign(t, jwt.SigningMethodES256, ecKey, claims(FocalPoint, "MX", nil)), Principal{Name: "ana.perez", Role: FocalPoint, Country: "MX"}},
		{"EdDSA service", edAuth, sign(t, jwt.SigningMethodEdDSA, edKey, claims(Service, "", nil)), Principal{Name: "ana.perez", Role: Service}},
		{"one of several audiences", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.Audience = jwt.ClaimStrings{"other", "convene"} })), Principal{Name: "ana.perez", Role: Organizer}},
		{"expired a moment ago, within the clock skew", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.ExpiresAt = jwt.NewNumericDate(jwtNow.Add(-10 * time.Second)) })), Principal{Name: "ana.perez", Role: Organizer}},

		{"expired", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.ExpiresAt = jwt.NewNumericDate(jwtNow.Add(-time.Hour)) })), Principal{}},
		{"no expiry", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.ExpiresAt = nil })), Principal{}},
		{"not valid yet", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.NotBefore = jwt.NewNumericDate(jwtNow.Add(time.Hour)) })), Principal{}},
		{"issued in the future", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.IssuedAt = jwt.NewNumericDate(jwtNow.Add(time.Hour)) })), Principal{}},
		{"another issuer", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.Issuer = "https://evil.example" })), Principal{}},
		{"another audience", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.Audience = jwt.ClaimStrings{"other"} })), Principal{}},
		{"signed by another key", rsaAuth, sign(t, jwt.SigningMethodRS256, otherRSA, claims(Organizer, "", nil)), Principal{}},
		{"alg none", rsaAuth, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(Organizer, "", nil)), Principal{}},
		{"HS256 keyed with the public key", rsaAuth, sign(t, jwt.SigningMethodHS256, rsaPEM, claims(Organizer, "", nil)), Principal{}},
		{"another asymmetric algorithm (PS256)", rsaAuth, sign(t, jwt.SigningMethodPS256, rsaKey, claims(Organizer, "", nil)), Principal{}},
		{"ES256 where RS256 is expected", rsaAuth, sign(t, jwt.SigningMethodES256, ecKey, claims(Organizer, "", nil)), Principal{}},
		{"unknown role", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims("admin", "", nil)), Principal{}},
		{"public role", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Public, "", nil)), Principal{}},
		{"focal point without a country", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(FocalPoint, "", nil)), Principal{}},
		{"focal point of no country", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(FocalPoint, "XX", nil)), Principal{}},
		{"organizer with a country", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "MX", nil)), Principal{}},
		{"no subject", rsaAuth, sign(t, jwt.SigningMethodRS256, rsaKey, claims(Organizer, "", func(c *jwtClaims) { c.Subject = "" })), Principal{}},
		{"garbage with two dots", rsaAuth, "a.b.c", Principal{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.Authenticate(metadata.Pairs("authorization", "Bearer "+tt.token))
			if tt.want == (Principal{}) {
				if !errors.Is(err, errdefs.ErrUnauthenticated) {
					t.Fatalf("Authenticate = %+v, %v; want UNAUTHENTICATED", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}

	t.Run("the expiry is named", func(t *testing.T) {
		_, err := rsaAuth.Authenticate(metadata.Pairs("authorization", "Bearer "+tests[5].token))
		if err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v, want it to say the token expired", err)
		}
	})
	t.Run("opaque tokens still work, the secret travels along", func(t *testing.T) {
		got, err := rsaAuth.Authenticate(metadata.Pairs("authorization", "Bearer mx-token"))
		if err != nil || got != (Principal{Name: "mx", Role: FocalPoint, Country: "MX"}) {
			t.Fatalf("opaque token: %+v, %v", got, err)
		}
		got, err = rsaAuth.Authenticate(metadata.Pairs("authorization", "Bearer "+tests[0].token, "x-registration-secret", "s3"))
		if err != nil || got.Secret != "s3" || got.Role != Organizer {
			t.Fatalf("JWT with a secret: %+v, %v", got, err)
		}
	})
	t.Run("without AcceptJWT a JWT is an unknown token", func(t *testing.T) {
		a, _ := New(testFile())
		if _, err := a.Authenticate(metadata.Pairs("authorization", "Bearer "+tests[0].token)); !errors.Is(err, errdefs.ErrUnauthenticated) {
			t.Fatalf("err = %v, want UNAUTHENTICATED", err)
		}
	})
}

func TestJWTConfigErrors(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ok, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	good := writeKey(t, &ok.PublicKey)
	for name, c := range map[string]JWTConfig{
		"no issuer":     {KeyFile: good, Audience: "convene"},
		"no audience":   {KeyFile: good, Issuer: "i"},
		"no key":        {Issuer: "i", Audience: "convene"},
		"missing file":  {KeyFile: filepath.Join(t.TempDir(), "nope.pem"), Issuer: "i", Audience: "convene"},
		"not PEM":       {KeyFile: garbage, Issuer: "i", Audience: "convene"},
		"RSA 1024 bits": {KeyFile: writeKey(t, &small.PublicKey), Issuer: "i", Audience: "convene"},
		"P-384":         {KeyFile: writeKey(t, &p384.PublicKey), Issuer: "i", Audience: "convene"},
	} {
		a, _ := New(testFile())
		if err := a.AcceptJWT(c, time.Now); err == nil {
			t.Errorf("%s: AcceptJWT accepted %+v", name, c)
		}
	}
	// The flags: JWTs only beside an auth file.
	if _, err := Setup("", true, JWTConfig{KeyFile: good, Issuer: "i", Audience: "convene"}); err == nil {
		t.Error("Setup accepted JWTs without an auth file")
	}
}

package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"convene.dev/platform/country"
	"convene.dev/platform/errdefs"
)

// JWTConfig turns on signed JWTs beside the tokens of the auth file, for
// an identity provider that issues them. All three are required together.
type JWTConfig struct {
	// KeyFile is a PEM public key ("PUBLIC KEY", PKIX) of the issuer: RSA
	// (tokens signed RS256), ECDSA P-256 (ES256) or Ed25519 (EdDSA). The
	// key decides the one algorithm accepted; shared-secret (HS*)
	// signatures are not, so a public key can never be used as a secret.
	KeyFile  string
	Issuer   string // the "iss" every token must carry
	Audience string // a value its "aud" must hold
}

// Flags adds -jwt-key-file, -jwt-issuer and -jwt-audience to fs.
func (c *JWTConfig) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.KeyFile, "jwt-key-file", c.KeyFile, "PEM public key of an identity provider whose signed JWTs are also accepted (RSA: RS256, P-256: ES256, Ed25519: EdDSA)")
	fs.StringVar(&c.Issuer, "jwt-issuer", c.Issuer, "the issuer (iss) every accepted JWT must name")
	fs.StringVar(&c.Audience, "jwt-audience", c.Audience, "an audience (aud) every accepted JWT must name")
}

// Enabled reports whether any JWT setting is given.
func (c JWTConfig) Enabled() bool { return c.KeyFile != "" || c.Issuer != "" || c.Audience != "" }

// jwtClaims are the claims Convene reads: the registered ones, and the
// caller's role and, for a focal point, its country.
type jwtClaims struct {
	jwt.RegisteredClaims
	Role    Role   `json:"role"`
	Country string `json:"country,omitempty"`
}

// jwtVerifier checks signed tokens.
type jwtVerifier struct {
	key    crypto.PublicKey
	parser *jwt.Parser
}

// maxClockSkew is how far the issuer's clock may be from ours.
const maxClockSkew = 30 * time.Second

func newJWTVerifier(c JWTConfig, now func() time.Time) (*jwtVerifier, error) {
	if c.KeyFile == "" || c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("JWTs need a key file, an issuer and an audience (-jwt-key-file, -jwt-issuer, -jwt-audience)")
	}
	b, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("JWT key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("JWT key %s: want a PEM \"PUBLIC KEY\" block", c.KeyFile)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("JWT key %s: %w", c.KeyFile, err)
	}
	var method string
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("JWT key %s: an RSA key needs 2048 bits or more", c.KeyFile)
		}
		method = jwt.SigningMethodRS256.Alg()
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("JWT key %s: an ECDSA key must be on P-256 (ES256)", c.KeyFile)
		}
		method = jwt.SigningMethodES256.Alg()
	case ed25519.PublicKey:
		method = jwt.SigningMethodEdDSA.Alg()
	default:
		return nil, fmt.Errorf("JWT key %s: unsupported key type %T", c.KeyFile, key)
	}
	return &jwtVerifier{
		key: key,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{method}),
			jwt.WithIssuer(c.Issuer),
			jwt.WithAudience(c.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(maxClockSkew),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// looksLikeJWT tells a compact JWS (three base64url parts) from an opaque
// token, which never holds a dot.
func looksLikeJWT(token string) bool { return strings.Count(token, ".") == 2 }

// verify checks token and returns its caller. Every failure is
// UNAUTHENTICATED: expired, not yet valid, another issuer or audience,
// another algorithm (alg "none" included), a bad signature, or claims
// that do not name a role Convene knows.
func (v *jwtVerifier) verify(token string) (Principal, error) {
	var claims jwtClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return v.key, nil })
	if err != nil {
		reason := "the token is not valid"
		if errors.Is(err, jwt.ErrTokenExpired) {
			reason = "the token has expired"
		}
		return Principal{}, errdefs.Newf(errdefs.ErrUnauthenticated, "BAD_CREDENTIALS", "%s", reason)
	}
	p := Principal{Name: claims.Subject, Role: claims.Role}
	switch claims.Role {
	case Organizer, Service:
		if claims.Country != "" {
			return Principal{}, errdefs.Newf(errdefs.ErrUnauthenticated, "BAD_CREDENTIALS", "only a focal_point token names a country")
		}
	case FocalPoint:
		if !country.Valid(claims.Country) {
			return Principal{}, errdefs.Newf(errdefs.ErrUnauthenticated, "BAD_CREDENTIALS", "a focal_point token needs a valid country")
		}
		p.Country = claims.Country
	default:
		return Principal{}, errdefs.Newf(errdefs.ErrUnauthenticated, "BAD_CREDENTIALS", "the token names no role Convene knows")
	}
	if p.Name == "" {
		return Principal{}, errdefs.Newf(errdefs.ErrUnauthenticated, "BAD_CREDENTIALS", "the token has no subject")
	}
	return p, nil
}

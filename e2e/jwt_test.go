package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// TestJWTs: with -jwt-key-file, -jwt-issuer and -jwt-audience (here as
// CONVENE_ variables, for both services) signed JWTs of an identity
// provider work beside the auth file's tokens, over HTTP and gRPC, with
// their role and country; expired, unsigned and wrongly signed ones are
// refused with 401 / UNAUTHENTICATED.
func TestJWTs(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	keyFile := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONVENE_JWT_KEY_FILE", keyFile)
	t.Setenv("CONVENE_JWT_ISSUER", "https://idp.rcm.example")
	t.Setenv("CONVENE_JWT_AUDIENCE", "convene")
	token := func(role, country string, exp time.Duration, m jwt.SigningMethod, k any) string {
		claims := jwt.MapClaims{
			"iss": "https://idp.rcm.example", "aud": "convene", "sub": "someone@rcm.example",
			"iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(exp).Unix(), "role": role,
		}
		if country != "" {
			claims["country"] = country
		}
		s, err := jwt.NewWithClaims(m, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	organizer := token("organizer", "", time.Hour, jwt.SigningMethodES256, key)
	focalMX := token("focal_point", "MX", time.Hour, jwt.SigningMethodES256, key)

	s := startSystem(t)
	ev := eventJSON("Workshop by JWT", time.Now().Add(72*time.Hour).UTC().Truncate(time.Second), 0)
	if r := s.callAs(t, organizer, "", "POST", "/v1/events?eventId=jwt-made", ev); r.Code != http.StatusOK {
		t.Fatalf("create as a JWT organizer: %d %s", r.Code, r.Raw)
	}
	if r := s.callAs(t, organizer, "", "POST", "/v1/events/jwt-made:publish", map[string]any{}); r.Code != http.StatusOK {
		t.Fatalf("publish as a JWT organizer: %d %s", r.Code, r.Raw)
	}
	for _, c := range []string{"MX", "GT"} {
		if r := s.call(t, "POST", "/v1/events/jwt-made/registrations", registrationJSON("A"+c, "a@"+c+".example.org", c)); r.Code != http.StatusOK {
			t.Fatalf("register %s: %d %s", c, r.Code, r.Raw)
		}
	}
	// The focal point's country limits what its JWT sees.
	r := s.callAs(t, focalMX, "", "GET", "/v1/events/jwt-made/registrations", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("list as the MX focal point: %d %s", r.Code, r.Raw)
	}
	if regs, _ := r.Body["registrations"].([]any); len(regs) != 1 {
		t.Fatalf("the MX focal point sees %d registrations, want its 1: %s", len(regs), r.Raw)
	}
	if r := s.callAs(t, focalMX, "", "POST", "/v1/events?eventId=nope", ev); r.Code != http.StatusForbidden {
		t.Errorf("create as a focal point: %d, want 403", r.Code)
	}
	// Over gRPC, straight to the registrations service.
	conn := dialGRPC(t, s.registrationsAddr, organizer)
	if _, err := registrationsv1.NewRegistrationServiceClient(conn).GetRegistrationStats(context.Background(),
		&registrationsv1.GetRegistrationStatsRequest{Name: "events/jwt-made/registrationStats"}); err != nil {
		t.Errorf("stats over gRPC with a JWT: %v", err)
	}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, bad := range map[string]string{
		"expired":         token("organizer", "", -time.Hour, jwt.SigningMethodES256, key),
		"alg none":        token("organizer", "", time.Hour, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		"HS256":           token("organizer", "", time.Hour, jwt.SigningMethodHS256, []byte("guess")),
		"another signer":  token("organizer", "", time.Hour, jwt.SigningMethodES256, other),
		"a role it lacks": token("admin", "", time.Hour, jwt.SigningMethodES256, key),
	} {
		if r := s.callAs(t, bad, "", "GET", "/v1/events/jwt-made/registrations", nil); r.Code != http.StatusUnauthorized {
			t.Errorf("%s JWT through the gateway: %d, want 401", name, r.Code)
		}
		conn := dialGRPC(t, s.registrationsAddr, bad)
		_, err := registrationsv1.NewRegistrationServiceClient(conn).GetRegistrationStats(context.Background(),
			&registrationsv1.GetRegistrationStatsRequest{Name: "events/jwt-made/registrationStats"})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s JWT over gRPC: %v, want UNAUTHENTICATED", name, err)
		}
	}
}

package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"convene.dev/platform/errdefs"
)

func testFile() File {
	return File{Tokens: []Token{
		{Name: "secretariat", Role: Organizer, SHA256: HashToken("org-token")},
		{Name: "mx", Role: FocalPoint, Country: "MX", SHA256: HashToken("mx-token")},
		{Name: "registrations", Role: Service, SHA256: HashToken("svc-token")},
	}}
}

func TestAuthenticate(t *testing.T) {
	a, err := New(testFile())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		md      metadata.MD
		want    Principal
		wantErr bool
	}{
		{"no token is the public", metadata.MD{}, Principal{Role: Public}, false},
		{"organizer", metadata.Pairs("authorization", "Bearer org-token"), Principal{Name: "secretariat", Role: Organizer}, false},
		{"scheme in any case", metadata.Pairs("authorization", "bearer mx-token"), Principal{Name: "mx", Role: FocalPoint, Country: "MX"}, false},
		{"service", metadata.Pairs("authorization", "Bearer svc-token"), Principal{Name: "registrations", Role: Service}, false},
		{"secret travels along", metadata.Pairs("x-registration-secret", "s3"), Principal{Role: Public, Secret: "s3"}, false},
		{"unknown token", metadata.Pairs("authorization", "Bearer nope"), Principal{}, true},
		{"hash instead of token", metadata.Pairs("authorization", "Bearer "+HashToken("org-token")), Principal{}, true},
		{"basic auth", metadata.Pairs("authorization", "Basic b3JnOnRva2Vu"), Principal{}, true},
		{"empty bearer", metadata.Pairs("authorization", "Bearer "), Principal{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authenticate(tt.md)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Authenticate error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errdefs.ErrUnauthenticated) {
				t.Errorf("error %v is not UNAUTHENTICATED", err)
			}
			if got != tt.want {
				t.Errorf("Authenticate = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := `{"tokens": [{"name": "secretariat", "role": "organizer", "sha256": "` + HashToken("x") + `"}]}`
	bad := map[string]string{
		"not json":        `{`,
		"unknown field":   `{"tokens": [], "admin": true}`,
		"unknown role":    `{"tokens": [{"name": "a", "role": "root", "sha256": "` + HashToken("x") + `"}]}`,
		"no country":      `{"tokens": [{"name": "a", "role": "focal_point", "sha256": "` + HashToken("x") + `"}]}`,
		"bad country":     `{"tokens": [{"name": "a", "role": "focal_point", "country": "XX", "sha256": "` + HashToken("x") + `"}]}`,
		"short hash":      `{"tokens": [{"name": "a", "role": "organizer", "sha256": "abcd"}]}`,
		"plain token":     `{"tokens": [{"name": "a", "role": "organizer", "sha256": "my-secret-token"}]}`,
		"duplicate names": `{"tokens": [{"name": "a", "role": "organizer", "sha256": "` + HashToken("x") + `"}, {"name": "a", "role": "service", "sha256": "` + HashToken("y") + `"}]}`,
	}
	for name, content := range bad {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := Load(p); err == nil {
			t.Errorf("%s: Load accepted %s", name, content)
		}
	}
	p := filepath.Join(dir, "good.json")
	os.WriteFile(p, []byte(good), 0o600)
	if _, err := Load(p); err != nil {
		t.Errorf("good file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestGuard(t *testing.T) {
	a, _ := New(testFile())
	g := NewGuard(a, Table{
		"/s/Open":       {Roles: []Role{Public}},
		"/s/Organizers": {Roles: []Role{Organizer}},
		"/s/Delegation": {Roles: []Role{Organizer, FocalPoint}, Own: true},
	})
	call := func(method, token string) (Principal, error) {
		md := metadata.MD{}
		if token != "" {
			md = metadata.Pairs("authorization", "Bearer "+token)
		}
		ctx := metadata.NewIncomingContext(context.Background(), md)
		var seen Principal
		_, err := g.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			seen = FromContext(ctx)
			return nil, nil
		})
		return seen, err
	}
	tests := []struct {
		method, token string
		want          error
	}{
		{"/s/Open", "", nil},
		{"/s/Open", "mx-token", nil},
		{"/s/Open", "bad", errdefs.ErrUnauthenticated},
		{"/s/Organizers", "", errdefs.ErrUnauthenticated},
		{"/s/Organizers", "mx-token", errdefs.ErrPermissionDenied},
		{"/s/Organizers", "svc-token", errdefs.ErrPermissionDenied},
		{"/s/Organizers", "org-token", nil},
		{"/s/Delegation", "mx-token", nil},
		{"/s/NotInTheTable", "org-token", errdefs.ErrPermissionDenied},
		{"/grpc.health.v1.Health/Check", "", nil},
	}
	for _, tt := range tests {
		p, err := call(tt.method, tt.token)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s with %q: error %v, want %v", tt.method, tt.token, err, tt.want)
		}
		if err == nil && tt.token == "mx-token" && p.Country != "MX" {
			t.Errorf("%s: principal %+v, want the MX focal point", tt.method, p)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	h := HashToken("s3cret")
	if !CheckSecret("s3cret", h) || CheckSecret("other", h) || CheckSecret("", h) || CheckSecret("s3cret", "") {
		t.Error("CheckSecret")
	}
}

func TestInsecure(t *testing.T) {
	p, err := Insecure().Authenticate(metadata.MD{})
	if err != nil || p.Role != Organizer {
		t.Errorf("insecure: %+v, %v", p, err)
	}
}

package auth

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"convene.dev/platform/errdefs"
)

// Rule says who may call a method. Object-level limits — a focal point sees
// only their delegation, a registrant only their own registration — need
// the object and are enforced by the service; Own marks the methods where
// it does so.
type Rule struct {
	Roles []Role // who may call; Public admits everyone
	Own   bool   // non-organizers are further limited to their own objects
}

// Table maps full method names ("/convene.events.v1.EventService/GetEvent")
// to their rules. A method that is not in the table is refused to everyone:
// a new method is closed until someone writes its rule.
type Table map[string]Rule

// Guard authenticates every call and checks it against the table.
type Guard struct {
	auth  *Authenticator
	table Table
}

// NewGuard returns a Guard.
func NewGuard(a *Authenticator, t Table) *Guard { return &Guard{auth: a, table: t} }

// alwaysOpen are the methods of the standard services that load balancers
// and tools call: health and (when turned on) reflection.
func alwaysOpen(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

func (g *Guard) check(ctx context.Context, method string) (context.Context, error) {
	if alwaysOpen(method) {
		return ctx, nil
	}
	// Only the two keys Authenticate reads: FromIncomingContext would copy
	// every header of every call.
	md := metadata.MD{}
	for _, k := range []string{AuthorizationKey, SecretKey} {
		if v := metadata.ValueFromIncomingContext(ctx, k); len(v) > 0 {
			md[k] = v
		}
	}
	p, err := g.auth.Authenticate(md)
	if err != nil {
		return nil, err
	}
	rule, ok := g.table[method]
	if !ok || !(slices.Contains(rule.Roles, Public) || slices.Contains(rule.Roles, p.Role)) {
		if p.Role == Public && ok {
			return nil, errdefs.Newf(errdefs.ErrUnauthenticated, "AUTHENTICATION_REQUIRED", "this method needs a bearer token")
		}
		return nil, errdefs.Newf(errdefs.ErrPermissionDenied, "PERMISSION_DENIED", "%s may not call %s", p.Role, method)
	}
	return NewContext(ctx, p), nil
}

// UnaryServerInterceptor authenticates and authorises unary calls.
func (g *Guard) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor authenticates and authorises streams.
func (g *Guard) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// TokenCredentials sends a bearer token with every call (the registrations
// service's own identity towards the events service). It does not require
// transport security: Convene's services talk over loopback or a private
// network; put TLS in front for anything else.
type TokenCredentials string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (t TokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthorizationKey: "Bearer " + string(t)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (TokenCredentials) RequireTransportSecurity() bool { return false }

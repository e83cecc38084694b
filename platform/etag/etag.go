// Package etag computes and checks AIP-154 etags of resources: a checksum of
// the resource's content, without its own etag field.
package etag

import (
	"crypto/sha256"
	"encoding/hex"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"convene.dev/platform/errdefs"
)

var marshal = proto.MarshalOptions{Deterministic: true}

// viewFields describe an answer rather than the resource, and are left
// out of its etag: the etag itself, and the language a localized answer
// is in.
var viewFields = []protoreflect.Name{"etag", "language"}

// Of returns the etag of m, a message with a string field named "etag".
func Of(m proto.Message) string {
	c := proto.Clone(m)
	r := c.ProtoReflect()
	for _, name := range viewFields {
		if fd := r.Descriptor().Fields().ByName(name); fd != nil {
			r.Clear(fd)
		}
	}
	b, _ := marshal.Marshal(c) // a valid message always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Check returns an ABORTED error with reason ETAG_MISMATCH when want is set
// and differs from the stored resource's etag.
func Check(want, stored, name string) error {
	if want != "" && want != stored {
		return errdefs.Newf(errdefs.ErrAborted, "ETAG_MISMATCH",
			"%s has changed since it was read (etag %q, sent %q); read it again", name, stored, want)
	}
	return nil
}

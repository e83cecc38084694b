// Package etag computes and checks AIP-154 etags of resources: a checksum of
// the resource's content, without its own etag field.
package etag

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"convene.dev/platform/errdefs"
)

var marshal = proto.MarshalOptions{Deterministic: true}

// viewFields describe an answer rather than the resource, and are left
// out of its etag: the etag itself, and the language a localized answer
// is in.
var viewFields = [...]protoreflect.Name{"etag", "language"}

// Of returns the etag of m, a message with a string field named "etag".
//
// It is the first 8 bytes of the SHA-256 of m's deterministic encoding
// without the view fields. Rather than clone m to clear them (a reflective
// deep copy, on every write), it encodes m once and drops their top-level
// records from the bytes: a field's record never depends on the others, so
// what is left is exactly the encoding of m without them.
func Of(m proto.Message) string {
	fields := m.ProtoReflect().Descriptor().Fields()
	var skip [len(viewFields)]protowire.Number // 0 is no field's number
	for i, name := range viewFields {
		if fd := fields.ByName(name); fd != nil {
			skip[i] = fd.Number()
		}
	}
	b, _ := marshal.Marshal(m) // a valid message always marshals
	kept := b[:0]              // compacted in place: b is ours
	for rest := b; len(rest) > 0; {
		num, _, n := protowire.ConsumeField(rest)
		if n < 0 { // bytes protobuf has just encoded always parse
			panic(fmt.Sprintf("etag: reading the encoding of %s: %v", m.ProtoReflect().Descriptor().FullName(), protowire.ParseError(n)))
		}
		if !slices.Contains(skip[:], num) {
			kept = append(kept, rest[:n]...)
		}
		rest = rest[n:]
	}
	sum := sha256.Sum256(kept)
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

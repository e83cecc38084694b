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

var (
	marshal      = proto.MarshalOptions{Deterministic: true}
	marshalSized = proto.MarshalOptions{Deterministic: true, UseCachedSize: true}
)

// etagRecord is the most an etag's record takes: a tag of up to two bytes,
// its length, 16 hex digits.
const etagRecord = 2 + 1 + 16

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
// what is left is exactly the encoding of m without them. A message that
// does not encode (a string that is not UTF-8, which no store would take
// either) has no etag: "".
func Of(m proto.Message) string {
	tag, _, _ := of(m)
	return tag
}

// Stamp sets m's etag to Of(m) and returns m's deterministic encoding, the
// new etag in it. When the etag is the last field that m has set (no view
// field, no unknown fields after it) — a registration's, as it is stored —
// that encoding is the one Of hashes with the etag's record appended, so m
// is encoded once rather than twice; otherwise it is encoded again. A
// message that does not encode (a string that is not UTF-8) is an error,
// and m is left as it was.
func Stamp(m proto.Message) ([]byte, error) {
	tag, e, err := of(m)
	if err != nil {
		return nil, err
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("etag")
	// The size that of cached in m is now short by the etag's record: only
	// a marshal with UseCachedSize reads it, and of's is done.
	r.Set(fd, protoreflect.ValueOfString(tag))
	if e.last < fd.Number() && !e.otherView && len(r.GetUnknown()) == 0 {
		b := protowire.AppendTag(e.kept, fd.Number(), protowire.BytesType)
		return protowire.AppendString(b, tag), nil
	}
	return marshal.Marshal(m)
}

// encoding is m's deterministic encoding without the view fields' records:
// the last field number it holds, and whether a view field other than the
// etag was dropped.
type encoding struct {
	kept      []byte
	last      protowire.Number
	otherView bool
}

func of(m proto.Message) (string, encoding, error) {
	fields := m.ProtoReflect().Descriptor().Fields()
	var skip [len(viewFields)]protowire.Number // 0 is no field's number
	for i, name := range viewFields {
		if fd := fields.ByName(name); fd != nil {
			skip[i] = fd.Number()
		}
	}
	// Room for the etag's record after the encoding (Stamp appends it):
	// the size computed here is the one the encoding then uses.
	b := make([]byte, 0, marshal.Size(m)+etagRecord)
	b, err := marshalSized.MarshalAppend(b, m)
	if err != nil { // a string that is not UTF-8: no etag
		return "", encoding{}, err
	}
	e := encoding{kept: b[:0]} // compacted in place: b is ours
	for rest := b; len(rest) > 0; {
		num, _, n := protowire.ConsumeField(rest)
		if n < 0 { // bytes protobuf has just encoded always parse
			panic(fmt.Sprintf("etag: reading the encoding of %s: %v", m.ProtoReflect().Descriptor().FullName(), protowire.ParseError(n)))
		}
		switch i := slices.Index(skip[:], num); {
		case i < 0:
			e.kept = append(e.kept, rest[:n]...)
			e.last = max(e.last, num)
		case i > 0:
			e.otherView = true
		}
		rest = rest[n:]
	}
	sum := sha256.Sum256(e.kept)
	return hex.EncodeToString(sum[:8]), e, nil
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
